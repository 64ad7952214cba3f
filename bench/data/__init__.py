"""Layer 1: the pictures: what "the original" is (`images`) and where datasets come from (`datasets`)."""
