"""Configuration: one TOML file, layered with environment variables and flags.

Precedence: built-in defaults < ``mmkit.toml`` < ``MMKIT__SECTION__KEY`` variables <
command-line flags. See :func:`mmkit.config.loader.load_settings`.
"""

from mmkit.config.loader import Settings, load_settings

__all__ = ["Settings", "load_settings"]
