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


def _truthy(values, cond, release):
    words = cond.split()
    if words[0] == "and":
        return all(_truthy(values, w, release) for w in words[1:])
    if words[0] == "not":
        return not _truthy(values, " ".join(words[1:]), release)
    assert len(words) == 1 and words[0].startswith(".Values."), cond
    try:
        return bool(_lookup(values, words[0][len(".Values."):]))
    except (KeyError, TypeError):
        return False


def _expr(values, expr, release):
    pipe = [p.strip() for p in expr.split("|")]
    head = pipe[0]
    if head.startswith("toYaml "):
        value = yaml.safe_dump(_lookup(values, head[len("toYaml .Values."):]), default_flow_style=False).strip()
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


def render(template, values, release="rel"):
    """The chart's template forms: {{ .Values.x }}, {{ .Release.Name }}, toYaml, indent and
    nindent, {{ if COND }} ... {{ end }} with `and`/`not`, and Helm's {{- / -}} trimming."""
    parts = re.split(r"(\{\{-?.*?-?\}\})", template, flags=re.S)
    out = []
    # Whether the text at each if-depth is emitted.
    emitting = [True]
    trim_next = False
    for part in parts:
        m = re.fullmatch(r"\{\{(-?)(.*?)(-?)\}\}", part, flags=re.S)
        if not m:
            if trim_next:
                part = part.lstrip()
            if all(emitting):
                out.append(part)
            trim_next = False
            continue
        left, action, right = m.group(1), m.group(2).strip(), m.group(3)
        if left and out:
            out[-1] = out[-1].rstrip()
        trim_next = bool(right)
        if action.startswith("if "):
            emitting.append(_truthy(values, action[3:], release))
        elif action == "end":
            emitting.pop()
        elif all(emitting):
            out.append(_expr(values, action, release))
    assert emitting == [True], "unbalanced if/end"
    return "".join(out)


def render_chart(values, release="rel"):
    """Every template rendered with `values`; {(kind, name): object}, empty ones left out."""
    objs = {}
    for name in sorted(os.listdir(os.path.join(CHART, "templates"))):
        text = open(os.path.join(CHART, "templates", name)).read()
        doc = yaml.safe_load(render(text, values, release))
        if doc:
            objs[(doc["kind"], doc["metadata"]["name"])] = doc
    return objs


def test_helm_chart_renders_master_service_workers_and_configmap():
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    assert chart["apiVersion"] == "v2" and chart["name"] == "locusta"
    values = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    objs = render_chart(values)
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


def test_helm_chart_exposes_the_masters_metrics_when_asked():
    values = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    assert values["metrics"]["enabled"] is False, "metrics are opt-in"
    off = render_chart(values)
    assert ("ServiceMonitor", "rel-master") not in off
    pod = off[("Deployment", "rel-master")]["spec"]["template"]
    assert "annotations" not in pod["metadata"]
    assert "--metrics-port" not in pod["spec"]["containers"][0]["args"]
    assert [p["name"] for p in off[("Service", "rel-master")]["spec"]["ports"]] == ["workers"]

    values["metrics"]["enabled"] = True
    values["metrics"]["serviceMonitor"]["enabled"] = True
    values["metrics"]["serviceMonitor"]["labels"] = {"release": "prometheus"}
    on = render_chart(values)
    port = values["metrics"]["port"]
    pod = on[("Deployment", "rel-master")]["spec"]["template"]
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    container = pod["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--metrics-port") + 1] == str(port)
    # The metrics server binds --web-host (loopback by default): all interfaces in a pod.
    assert args[args.index("--web-host") + 1] == "0.0.0.0"
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    service = on[("Service", "rel-master")]
    assert {"name": "metrics", "port": port, "targetPort": port} in service["spec"]["ports"]
    monitor = on[("ServiceMonitor", "rel-master")]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"] == {"app": "rel", "release": "prometheus"}
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": values["metrics"]["serviceMonitor"]["interval"]}
    ]
    # Pod annotations can be turned off for an operator-only setup.
    values["metrics"]["podAnnotations"] = False
    pod = render_chart(values)[("Deployment", "rel-master")]["spec"]["template"]
    assert "annotations" not in pod["metadata"]
    if shutil.which("helm"):
        r = subprocess.run(
            ["helm", "template", "rel", CHART, "--set", "metrics.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"],
            capture_output=True, text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "kind: ServiceMonitor" in r.stdout
