"""webscan: find cryptojacking in web pages, scripts and WebAssembly."""

__version__ = "0.1.0"
