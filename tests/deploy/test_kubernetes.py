"""deploy/kubernetes: every manifest valid against the Kubernetes schemas (kubernetes-validate,
offline), the pieces wired to each other, and the proxy's settings ones it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tts_proxy.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.33.0"


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name in ("kustomization.yaml", "vllm-stack-values.yaml"):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize("key", sorted(manifests()), ids=lambda k: f"{k[0]}/{k[1]}")
def test_each_manifest_is_valid_kubernetes(key: tuple[str, str]) -> None:
    kubernetes_validate.validate(manifests()[key], KUBERNETES, strict=True)


def test_the_kustomization_lists_files_that_exist() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).is_file(), resource
    for generator in kustomization["configMapGenerator"]:
        for file in generator["files"]:
            assert (DEPLOY / file).resolve().is_file(), file


def test_the_pieces_are_wired_to_each_other() -> None:
    m = manifests()
    deployment = m[("Deployment", "tts-proxy")]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert m[("Service", "tts-proxy")]["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = m[("HorizontalPodAutoscaler", "tts-proxy")]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "tts-proxy")
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
              if "persistentVolumeClaim" in v]  # fmt: skip
    assert all(("PersistentVolumeClaim", c) in m for c in claims)
    (container,) = pod["spec"]["containers"]
    port = container["ports"][0]["containerPort"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    settings = m[("ConfigMap", "tts-proxy-settings")]["data"]
    grace = float(settings["TTS_SHUTDOWN_GRACE_SECONDS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > grace  # in-flight requests drain
    assert int(settings["TTS_PORT"]) == port


def test_the_proxy_accepts_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    data = manifests()[("ConfigMap", "tts-proxy-settings")]["data"]
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.untrusted_controllers == "refuse" and settings.trace_dir == Path("/traces")


def test_the_vllm_stack_values_route_by_session() -> None:
    values = yaml.safe_load((DEPLOY / "vllm-stack-values.yaml").read_text())
    assert values["routerSpec"]["routingLogic"] == "session"
    (spec,) = values["servingEngineSpec"]["modelSpec"][:1]
    assert spec["vllmConfig"]["enablePrefixCaching"] is True
