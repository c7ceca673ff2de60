"""Layer: configuration. One typed, frozen config per run: the schema, loading a pipeline's YAML
with overrides, and scaffolding a new pipeline's YAML from a table (``rnnflow init``).

The public names are re-exported here; import them from ``pipeline.config``.
"""

from pipeline.config.loading import (
    CONFIG_DIR,
    config_from_yaml_text,
    discover_pipelines,
    load_config,
    pipeline_files,
    validate_config,
)
from pipeline.config.overrides import apply_overrides, parse_override
from pipeline.config.schema import (
    AssetSchedule,
    ConfigError,
    Limit,
    PipelineConfig,
    SearchRange,
    TextConfig,
    ValidationConfig,
    architectures_for_kind,
    hash_resolved_config,
)

__all__ = [
    "CONFIG_DIR",
    "AssetSchedule",
    "ConfigError",
    "Limit",
    "PipelineConfig",
    "SearchRange",
    "TextConfig",
    "ValidationConfig",
    "apply_overrides",
    "architectures_for_kind",
    "config_from_yaml_text",
    "discover_pipelines",
    "hash_resolved_config",
    "load_config",
    "parse_override",
    "pipeline_files",
    "validate_config",
]
