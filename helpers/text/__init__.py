"""The description language shared by stages 02-04: lexicon, grammar, fact extractor, name slots,
model input (linearize), generated CV records and text metrics.
"""
