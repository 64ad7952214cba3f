"""Layer 5: what people look at: RD figures (`figures`), the perception-distortion section
(`perception`), the report page (`report`) and its HTML (`markdown`), the visual comparisons at
matched rate (`panels`, on the pictures of `pictures`) and the per-image pages (`pages`), and the
check of the page in headless Chromium (`screenshot`)."""
