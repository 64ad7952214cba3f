"""Layer 6: the anchor audit (`bench audit`): a classical codec through bench's path and through CompressAI's
bench on the same pictures, points and binary: each colour path's own loss (`passthrough`), the BD-rate
between the two paths with both RD point sets (`anchor`, `peers`), the shipped cfg against the user's
checkout (`cfgdiff`), and the report section (`page`)."""
