"""Layer 4: numbers from rows: BD-rate with bootstrap CIs (`bd`), published CompressAI curves
(`published`), the perception-distortion tables (`perception`), the CI regression check (`regression`)."""
