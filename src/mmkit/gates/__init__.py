"""Built-in gates: the data-quality quote gate and the kill switch (seed report §3, §7)."""
