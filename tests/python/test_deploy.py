"""The deployment files: Dockerfile stages, docker-compose services, and the Helm chart's
templates rendered with the chart's values (a minimal renderer for the few template forms the
chart uses) and checked as Kubernetes objects."""

import os
import re
import shutil
import subprocess

import pytest

yaml = pytest.importorskip("yaml")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "locusta")


def test_dockerfile_is_multi_stage_and_builds_the_wheel():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M)
    assert len(froms) >= 2, froms
    assert froms[0][1] == "build"
    assert "maturin build" in text
    assert "COPY --from=build" in text
    assert re.search(r'^ENTRYPOINT \["locusta"\]', text, re.M)


def test_compose_has_a_master_and_scalable_workers():
    doc = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    master, worker = doc["services"]["master"], doc["services"]["worker"]
    assert "--master" in master["command"]
    assert "--worker" in worker["command"] and "--master-host master" in worker["command"]
    assert worker["deploy"]["replicas"] >= 1
    assert any(v.endswith("/mnt/locust/locustfile.py:ro") for v in worker["volumes"])
    has_compose = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True
    ).returncode == 0
    if has_compose:
        r = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def _lookup(values, path):
    cur = values
    for part in path.split("."):
        cur = cur[part]
    return cur


def render(template, values, release="rel"):
    def repl(m):
        expr = m.group(1).strip().lstrip("-").strip()
        pipe = [p.strip() for p in expr.split("|")]
        head = pipe[0]
        if head.startswith("toYaml "):
            value = yaml.safe_dump(_lookup(values, head[len("toYaml .Values."):]), default_flow_style=True).strip()
        elif head == ".Release.Name":
            value = release
        else:
            value = _lookup(values, head[len(".Values."):])
        text = str(value)
        for f in pipe[1:]:
            name, n = f.split()
            pad = " " * int(n)
            text = "\n".join(pad + line for line in text.splitlines())
            if name == "nindent":
                text = "\n" + text
        return text

    return re.sub(r"\{\{-?(.*?)\}\}", repl, template)


def test_helm_chart_renders_master_service_workers_and_configmap():
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    assert chart["apiVersion"] == "v2" and chart["name"] == "locusta"
    values = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    objs = {}
    for name in sorted(os.listdir(os.path.join(CHART, "templates"))):
        text = open(os.path.join(CHART, "templates", name)).read()
        doc = yaml.safe_load(render(text, values))
        objs[(doc["kind"], doc["metadata"]["name"])] = doc
    master = objs[("Deployment", "rel-master")]
    worker = objs[("Deployment", "rel-worker")]
    service = objs[("Service", "rel-master")]
    cm = objs[("ConfigMap", "rel-locustfile")]
    assert "class WebsiteUser" in cm["data"]["locustfile.py"]
    margs = master["spec"]["template"]["spec"]["containers"][0]["args"]
    wargs = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--master" in margs and "--worker" in wargs
    assert wargs[wargs.index("--master-host") + 1] == "rel-master"
    assert worker["spec"]["replicas"] == values["worker"]["replicas"]
    assert service["spec"]["ports"][0]["port"] == values["master"]["port"]
    assert service["spec"]["selector"] == master["spec"]["template"]["metadata"]["labels"]
    for d in (master, worker):
        vol = d["spec"]["template"]["spec"]["volumes"][0]
        assert vol["configMap"]["name"] == "rel-locustfile"
    if shutil.which("helm"):
        r = subprocess.run(["helm", "lint", CHART], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
