"""Layer 5: what people look at: RD figures (`figures`), the perception-distortion section
(`perception`), the report page (`report`) and its HTML (`markdown`)."""
