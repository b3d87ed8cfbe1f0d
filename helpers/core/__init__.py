"""Core shared by every stage: project paths, files, offline switches, devices, the model-folder
contract, command-line plumbing and the notebook runner.
"""
