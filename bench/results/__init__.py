"""Layer 3: where measured rows live (`store`: one atomic JSON file per unit) and the tables derived
from them (`tables`: the frame of current rows, dataset means, Parquet/CSV/summary files)."""
