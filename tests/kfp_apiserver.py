"""KFP's API server as the tests reproduce it, by each release's own source: its strict parse of the whole package
with 2.2.0's, 2.5.0's and 2.17.0's protos (kfp_driver.py rebuilds them), for tests/test_kfp_apiserver.py."""

from __future__ import annotations

import json
import re

import yaml
from google.protobuf import json_format, message_factory

from kfp_driver import ABSENT_AT_2_2_0, ABSENT_AT_2_5_0, OWN_AT_2_5_0, pipeline_spec_pool

# ---- The API server: NewV2SpecTemplate (backend/src/apiserver/template/v2_template.go near line 145 at 2.2.0, 155
# at 2.5.0, 195 at 2.17.0) at every release: each YAML document parsed with protojson.Unmarshal (strict) as a
# PipelineSpec; one that is not (isPipelineSpec, template.go near 104: it parses and has a name and a root) is tried as
# a PlatformSpec with a kubernetes entry (IsPlatformSpecWithKubernetesConfig), whose executors are Structs; a document
# that is neither is skipped, so a spec with a field the release lacks is "no pipeline spec is provided", and a
# platform spec that does not parse is dropped without a word (the steps would lose their secret and placement).
API_SERVER_POOLS = {
    "2.2.0": lambda: pipeline_spec_pool(ABSENT_AT_2_2_0),
    "2.5.0": lambda: pipeline_spec_pool(ABSENT_AT_2_5_0, OWN_AT_2_5_0),
    "2.17.0": lambda: pipeline_spec_pool({}),
}
SCHEMA_VERSION = "2.1.0"  # v2_template.go SCHEMA_VERSION_2_1_0
# regexp.MatchString finds the pattern anywhere in the name (unanchored): re.search.
PIPELINE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class Refused(ValueError):
    """What the API server answers a package it refuses (InvalidInputError's details)."""


def apiserver_parse(package: str, tag: str):
    """The PipelineSpec and PlatformSpec (or None) the release's API server makes of the package's YAML."""
    pool = API_SERVER_POOLS[tag]()
    kinds = [
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"ml_pipelines.{n}"))
        for n in ("PipelineSpec", "PlatformSpec")
    ]

    def parsed(kind, value):
        try:
            return json_format.Parse(json.dumps(value), kind(), ignore_unknown_fields=False)
        except json_format.ParseError as error:
            return error

    spec = platform = None
    for value in yaml.safe_load_all(package):
        if not value:
            continue
        as_spec = parsed(kinds[0], value)
        if not isinstance(as_spec, Exception) and as_spec.pipeline_info.name and as_spec.HasField("root"):
            if spec is not None:
                raise Refused("multiple pipeline specs provided")
            if as_spec.schema_version != SCHEMA_VERSION:
                raise Refused(
                    f"KFP only supports schema version 2.1.0, but the pipeline spec has version "
                    f"{as_spec.schema_version}"
                )
            if not PIPELINE_NAME.search(as_spec.pipeline_info.name):
                raise Refused("invalid v2 pipeline spec: name should consist of lower case alphanumeric characters")
            spec = as_spec
            continue
        as_platform = parsed(kinds[1], value)
        if not isinstance(as_platform, Exception) and "kubernetes" in as_platform.platforms:
            if platform is not None:
                raise Refused("multiple platform specs provided")
            platform = as_platform
    if spec is None:
        raise Refused("no pipeline spec is provided")
    return spec, platform
