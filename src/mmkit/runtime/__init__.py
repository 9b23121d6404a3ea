"""Running the engine: journal, observers, clocks and the paper / live runners."""
