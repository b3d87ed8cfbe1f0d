"""Stage 02: CV outputs -> training pairs (the grammar's descriptions, split by image), its report."""
