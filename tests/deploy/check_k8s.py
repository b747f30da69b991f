#!/usr/bin/env python3
"""Renders every kustomization under k8s/ and checks what comes out.

usage: check_k8s.py K8S_DIR [SWITCHYARD_EXE]

Renders k8s/base, each k8s/overlays/* and k8s/demo with `kubectl kustomize`
(or $KUBECTL; several, colon-separated, to check each renders the same).
Checks:

  - schema sanity: apiVersion/kind pairs known, metadata.name valid,
    namespaced kinds namespaced, no unknown fields in the objects and pod
    specs switchyard uses (a misspelt field is silently dropped by a
    cluster: here it fails)
  - images: localhost/switchyard with an explicit variant tag (cpu on the
    base, cuda on GPU overlays), never pulled when present
  - the pod: frontend, router and classifier containers, each running
    `switchyard <its name> -c <the mounted configuration>`
  - probes: the frontend's liveness on /health and readiness on /ready, on
    the port the configuration listens on; the Service targets that port;
    the router's and the classifier's startup and liveness probes are
    `switchyard probe <role> -c <the same configuration>` (exec: they serve
    no HTTP); no readiness probe on the classifier (requests never wait for
    it, so it must not take the pod out of the Service)
  - resources: requests (cpu, memory) and a memory limit on every container;
    the classifier's CPU request is whole cores, classifier.threads of the
    configuration; nvidia.com/gpu only on the classifier, exactly 1, in the
    GPU overlays (and there with room for the CUDA libraries: a memory limit
    of 1Gi or more), and the other containers there say
    NVIDIA_VISIBLE_DEVICES=void (no GPU behind the device plugin's back)
  - the configuration enables the classifier (model "auto" has one)
  - the eBPF probes' overlay (overlays/probes): a fourth container running
    `switchyard probes -r <shm.runtime_dir> ... --stay`, the pod's
    shareProcessNamespace, its only capabilities BPF, PERFMON, SYS_RESOURCE
    (and, for their file capabilities, privilege escalation), non-root; no
    other render has it
  - security: no hostNetwork/hostPID/hostIPC/hostPath/privileged, non-root,
    no privilege escalation, all capabilities dropped, seccomp
  - RBAC: namespaced Role only, verbs within get/list/watch, resources
    within endpointslices and pods, bound to the pods' ServiceAccount
  - the shared memory: one emptyDir (medium Memory) mounted by every
    container of the pod at the configuration's shm.runtime_dir
  - the ConfigMap: generated, referenced, and `switchyard check` accepts it
  - the demo: it serves every upstream host the configuration names

Needs python3-yaml; exits 77 (skip, with the reason) without it or kubectl.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: python3 yaml module missing (apt-get install python3-yaml)")
    sys.exit(77)

IMAGE_REPO = "localhost/switchyard"
GPU_OVERLAYS = ("k3d", "minikube")
RBAC_VERBS = {"get", "list", "watch"}
RBAC_RESOURCES = {("discovery.k8s.io", "endpointslices"), ("", "pods")}
SHM_MOUNT = "/run/switchyard"

API = {
    "Namespace": ("v1", False),
    "ServiceAccount": ("v1", True),
    "ConfigMap": ("v1", True),
    "Service": ("v1", True),
    "Role": ("rbac.authorization.k8s.io/v1", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", True),
    "DaemonSet": ("apps/v1", True),
    "Deployment": ("apps/v1", True),
    "RuntimeClass": ("node.k8s.io/v1", False),
}

# Fields of the Kubernetes API objects (core/v1, apps/v1, ...) that may
# appear; the lists are the API's, restricted to the objects used here.
F = {
    "top": {"apiVersion", "kind", "metadata", "spec", "data", "binaryData", "immutable", "rules",
            "roleRef", "subjects", "handler", "overhead", "scheduling", "secrets",
            "automountServiceAccountToken", "imagePullSecrets", "status"},
    "metadata": {"name", "namespace", "labels", "annotations", "generateName"},
    "DaemonSet.spec": {"selector", "template", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"},
    "Deployment.spec": {"replicas", "selector", "template", "strategy", "minReadySeconds",
                        "revisionHistoryLimit", "progressDeadlineSeconds", "paused"},
    "Service.spec": {"type", "selector", "ports", "clusterIP", "clusterIPs", "externalTrafficPolicy",
                     "internalTrafficPolicy", "sessionAffinity", "ipFamilyPolicy", "ipFamilies",
                     "loadBalancerClass", "publishNotReadyAddresses"},
    "ServicePort": {"name", "port", "targetPort", "protocol", "nodePort", "appProtocol"},
    "template": {"metadata", "spec"},
    "PodSpec": {"containers", "initContainers", "volumes", "serviceAccountName",
                "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "securityContext",
                "terminationGracePeriodSeconds", "nodeSelector", "tolerations", "affinity",
                "runtimeClassName", "priorityClassName", "enableServiceLinks", "dnsPolicy",
                "restartPolicy", "shareProcessNamespace", "topologySpreadConstraints", "imagePullSecrets"},
    "Container": {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports",
                  "livenessProbe", "readinessProbe", "startupProbe", "resources", "securityContext",
                  "volumeMounts", "workingDir", "lifecycle", "terminationMessagePolicy", "stdin", "tty"},
    "ContainerPort": {"name", "containerPort", "protocol", "hostPort", "hostIP"},
    "Probe": {"httpGet", "tcpSocket", "exec", "grpc", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"},
    "HTTPGetAction": {"path", "port", "host", "scheme", "httpHeaders"},
    "ResourceRequirements": {"requests", "limits"},
    "SecurityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities", "privileged",
                        "runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile", "procMount",
                        "seLinuxOptions", "appArmorProfile"},
    "PodSecurityContext": {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile",
                           "supplementalGroups", "fsGroupChangePolicy", "sysctls", "seLinuxOptions",
                           "appArmorProfile"},
    "Volume": {"name", "emptyDir", "configMap", "secret", "projected", "hostPath", "persistentVolumeClaim",
               "downwardAPI"},
    "VolumeMount": {"name", "mountPath", "readOnly", "subPath", "mountPropagation"},
    "EnvVar": {"name", "value", "valueFrom"},
    "Toleration": {"key", "operator", "value", "effect", "tolerationSeconds"},
}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUANTITY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
         "Ti": 2**40}
CONTAINERS = ("frontend", "router", "classifier")
PROBES_OVERLAY = "probes"
PROBES_CAPS = ["BPF", "PERFMON", "SYS_RESOURCE"]


def quantity(v):
    m = QUANTITY_RE.match(str(v))
    return float(m.group(0)[:len(m.group(0)) - len(m.group(2) or "")]) * UNITS[m.group(2) or ""] if m else None


class Checker:
    def __init__(self, label):
        self.label = label
        self.errors = []

    def err(self, msg):
        self.errors.append("%s: %s" % (self.label, msg))

    def fields(self, obj, kind, where):
        if not isinstance(obj, dict):
            self.err("%s: not a mapping" % where)
            return {}
        extra = set(obj) - F[kind]
        if extra:
            self.err("%s: unknown fields %s (for %s)" % (where, sorted(extra), kind))
        return obj


def kubectls():
    env = os.environ.get("KUBECTL")
    if env:
        return [k for k in env.split(":") if k]
    k = shutil.which("kubectl")
    if k:
        return [k]
    print("SKIP: kubectl not found (apt-get install kubernetes-client, or set KUBECTL)")
    sys.exit(77)


def render(kubectl, path):
    r = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s kustomize %s: exit %d\n%s" % (kubectl, path, r.returncode, r.stderr))
    return r.stdout


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def check_pod(c, name, pod, gpu, ns_objects, configmaps, is_switchyard):
    spec = c.fields(pod.get("spec"), "PodSpec", name + ".spec")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            c.err("%s: %s is set" % (name, key))
    psc = c.fields(spec.get("securityContext", {}), "PodSecurityContext", name + ".securityContext")
    if psc.get("runAsNonRoot") is not True:
        c.err("%s: pod securityContext.runAsNonRoot is not true" % name)
    if (psc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        c.err("%s: pod seccompProfile is not RuntimeDefault/Localhost" % name)
    volumes = {}
    for v in spec.get("volumes", []):
        c.fields(v, "Volume", name + ".volumes")
        volumes[v["name"]] = v
        if "hostPath" in v:
            c.err("%s: hostPath volume %s" % (name, v["name"]))
        if "configMap" in v and v["configMap"]["name"] not in configmaps:
            c.err("%s: volume %s names ConfigMap %s, not in the output" % (name, v["name"], v["configMap"]["name"]))
    sa = spec.get("serviceAccountName")
    if is_switchyard and sa not in ns_objects.get("ServiceAccount", set()):
        c.err("%s: serviceAccountName %r not in the output" % (name, sa))
    if gpu:
        if spec.get("runtimeClassName") != "nvidia":
            c.err("%s: GPU overlay without runtimeClassName: nvidia" % name)
        if not spec.get("nodeSelector"):
            c.err("%s: GPU overlay without a nodeSelector" % name)
        tol = [c.fields(t, "Toleration", name + ".tolerations") for t in spec.get("tolerations", [])]
        if not any(t.get("key") == "nvidia.com/gpu" for t in tol):
            c.err("%s: GPU overlay does not tolerate the nvidia.com/gpu taint" % name)
    elif spec.get("runtimeClassName"):
        c.err("%s: runtimeClassName outside a GPU overlay" % name)

    containers = spec.get("containers", [])
    if not containers:
        c.err("%s: no containers" % name)
    mounts_by_container = {}
    for ct in containers:
        cn = "%s/%s" % (name, ct.get("name"))
        c.fields(ct, "Container", cn)
        image = ct.get("image", "")
        repo, _, tag = image.rpartition(":")
        if repo != IMAGE_REPO or tag not in ("cpu", "cuda"):
            c.err("%s: image %r is not %s:cpu|cuda" % (cn, image, IMAGE_REPO))
        elif is_switchyard and tag != ("cuda" if gpu else "cpu"):
            c.err("%s: image tag %s on a %s render" % (cn, tag, "GPU" if gpu else "CPU"))
        if ct.get("imagePullPolicy") not in ("IfNotPresent", "Never"):
            c.err("%s: imagePullPolicy %r would pull a locally imported image" % (cn, ct.get("imagePullPolicy")))
        for p in ct.get("ports", []):
            c.fields(p, "ContainerPort", cn + ".ports")
            if not isinstance(p.get("containerPort"), int):
                c.err("%s: containerPort is not an integer" % cn)
            if "hostPort" in p:
                c.err("%s: hostPort" % cn)
        for e in ct.get("env", []):
            c.fields(e, "EnvVar", cn + ".env")
        res = c.fields(ct.get("resources", {}), "ResourceRequirements", cn + ".resources")
        req, lim = res.get("requests", {}), res.get("limits", {})
        for key in ("cpu", "memory"):
            if key not in req:
                c.err("%s: no %s request" % (cn, key))
        if "memory" not in lim:
            c.err("%s: no memory limit" % cn)
        for k, v in list(req.items()) + list(lim.items()):
            if not QUANTITY_RE.match(str(v)):
                c.err("%s: resource %s=%r is not a quantity" % (cn, k, v))
        gpus = "nvidia.com/gpu" in req or "nvidia.com/gpu" in lim
        if gpus:
            if ct.get("name") != "classifier" or not gpu:
                c.err("%s: nvidia.com/gpu outside the GPU overlays' classifier" % cn)
            if str(req.get("nvidia.com/gpu")) != str(lim.get("nvidia.com/gpu")):
                c.err("%s: nvidia.com/gpu requests != limits" % cn)
        elif ct.get("name") == "classifier" and gpu:
            c.err("%s: the GPU classifier reserves no nvidia.com/gpu" % cn)
        sc = c.fields(ct.get("securityContext", {}), "SecurityContext", cn + ".securityContext")
        probes = ct.get("name") == "probes"
        if sc.get("privileged"):
            c.err("%s: privileged" % cn)
        if sc.get("allowPrivilegeEscalation") is not (True if probes else False):
            c.err("%s: allowPrivilegeEscalation is not %s" % (cn, "true (file capabilities)" if probes else "false"))
        if probes and (sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False):
            c.err("%s: runs as root" % cn)
        if sc.get("readOnlyRootFilesystem") is not True:
            c.err("%s: readOnlyRootFilesystem is not true" % cn)
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            c.err("%s: capabilities not all dropped" % cn)
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined" and ct.get("name") != "frontend":
            c.err("%s: seccomp Unconfined (only the frontend, for io_uring)" % cn)
        added = sorted((sc.get("capabilities") or {}).get("add") or [])
        if added and not (probes and added == PROBES_CAPS):
            c.err("%s: capabilities added: %s%s" % (cn, added, " (the probes: %s only)" % PROBES_CAPS
                                                   if probes else ""))
        if probes and added != PROBES_CAPS:
            c.err("%s: capabilities %s, want %s" % (cn, added, PROBES_CAPS))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in ct:
                pr = c.fields(ct[probe], "Probe", "%s.%s" % (cn, probe))
                handlers = [h for h in ("httpGet", "tcpSocket", "exec", "grpc") if h in pr]
                if len(handlers) != 1:
                    c.err("%s.%s: %d handlers" % (cn, probe, len(handlers)))
                if "httpGet" in pr:
                    c.fields(pr["httpGet"], "HTTPGetAction", "%s.%s.httpGet" % (cn, probe))
        mounts = {}
        for m in ct.get("volumeMounts", []):
            c.fields(m, "VolumeMount", cn + ".volumeMounts")
            if m["name"] not in volumes:
                c.err("%s: mounts undeclared volume %s" % (cn, m["name"]))
            mounts[m["name"]] = m
        mounts_by_container[ct.get("name")] = (ct, mounts)
    return spec, volumes, mounts_by_container


def check_probes(c, name, spec, ct, runtime_dir):
    """The eBPF probes' container (overlays/probes)."""
    cmd = ct.get("command") or []
    if cmd[:4] != ["switchyard", "probes", "-r", runtime_dir] or "--stay" not in cmd:
        c.err("%s/probes: command %s is not `switchyard probes -r %s ... --stay`" % (name, cmd, runtime_dir))
    if spec.get("shareProcessNamespace") is not True:
        c.err("%s: the probes without shareProcessNamespace (they attach to the frontend's pid)" % name)


def check_switchyard_pod(c, name, spec, volumes, mounts_by_container, configmaps, exe, gpu, probes=False):
    names = set(mounts_by_container)
    want = set(CONTAINERS) | ({"probes"} if probes else set())
    if names != want:
        c.err("%s: containers %s, want %s" % (name, sorted(names), ", ".join(sorted(want))))
        return
    if not probes and spec.get("shareProcessNamespace"):
        c.err("%s: shareProcessNamespace without the probes" % name)
    # the config: one ConfigMap, mounted by all, accepted by switchyard check
    cfg_vols = [v for v in volumes.values() if "configMap" in v]
    if len(cfg_vols) != 1:
        c.err("%s: %d ConfigMap volumes, want 1" % (name, len(cfg_vols)))
        return
    cm = configmaps.get(cfg_vols[0]["configMap"]["name"])
    if not cm or "switchyard.yaml" not in cm.get("data", {}):
        c.err("%s: the ConfigMap has no switchyard.yaml" % name)
        return
    if not re.search(r"-[a-z0-9]{10}$", cm["metadata"]["name"]):
        c.err("%s: ConfigMap %s carries no content hash (configMapGenerator)" % (name, cm["metadata"]["name"]))
    text = cm["data"]["switchyard.yaml"]
    cfg = yaml.safe_load(text)
    runtime_dir = (cfg.get("shm") or {}).get("runtime_dir", SHM_MOUNT)
    port = (cfg.get("server") or {}).get("port", 8080)
    if exe:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            r = subprocess.run([exe, "check", "-c", f.name], capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        if r.returncode != 0:
            c.err("%s: switchyard check refuses the ConfigMap: %s" % (name, r.stderr.strip()))
    # the shared memory
    shm = [v for v in volumes.values() if (v.get("emptyDir") or {}).get("medium") == "Memory"]
    if len(shm) != 1:
        c.err("%s: %d memory-backed emptyDir volumes, want 1 (the shared segment)" % (name, len(shm)))
        return
    shm_name = shm[0]["name"]
    for cname, (ct, mounts) in sorted(mounts_by_container.items()):
        m = mounts.get(shm_name)
        if not m or m.get("mountPath") != runtime_dir:
            c.err("%s/%s: does not mount %s at shm.runtime_dir %s" % (name, cname, shm_name, runtime_dir))
        elif m.get("readOnly"):
            c.err("%s/%s: mounts the shared segment read-only" % (name, cname))
        env = {e["name"]: e.get("value") for e in ct.get("env", [])}
        if env.get("SWITCHYARD_RUNTIME_DIR", runtime_dir) != runtime_dir:
            c.err("%s/%s: SWITCHYARD_RUNTIME_DIR differs from shm.runtime_dir" % (name, cname))
        if cfg_vols[0]["name"] not in mounts:
            c.err("%s/%s: does not mount the configuration" % (name, cname))
        cmd = ct.get("command") or []
        cfg_path = mounts[cfg_vols[0]["name"]]["mountPath"] + "/switchyard.yaml" \
            if cfg_vols[0]["name"] in mounts else None
        if cname == "probes":
            check_probes(c, name, spec, ct, runtime_dir)
        elif cmd != ["switchyard", cname, "-c", cfg_path]:
            c.err("%s/%s: command %s is not `switchyard %s -c %s`" % (name, cname, cmd, cname, cfg_path))
        if gpu and cname != "classifier" and env.get("NVIDIA_VISIBLE_DEVICES") != "void":
            c.err("%s/%s: NVIDIA_VISIBLE_DEVICES is not void on a GPU node (the runtime may hand it GPUs)"
                  % (name, cname))
        # the processes without HTTP: exec probes on their heartbeat
        if cname in ("router", "classifier"):
            want = ["switchyard", "probe", cname, "-c", cfg_path]
            for probe in ("startupProbe", "livenessProbe"):
                got = ((ct.get(probe) or {}).get("exec") or {}).get("command")
                if got != want:
                    c.err("%s/%s: %s is %s, want exec %s" % (name, cname, probe, got, want))
    # the classifier: enabled, its threads its CPU request, a GPU only in the GPU overlays
    cl = mounts_by_container["classifier"][0]
    ccfg = cfg.get("classifier") or {}
    if ccfg.get("enabled", True) is False or not (cfg.get("classifier") is not None or cfg.get("categories")
                                                 or (cfg.get("prompt_guard") or {}).get("enabled")):
        c.err("%s: the configuration does not enable the classifier" % name)
    if "readinessProbe" in cl:
        c.err("%s/classifier: a readiness probe (a classifier down must not take the pod out of the Service)"
              % name)
    res = cl.get("resources") or {}
    cpu = quantity((res.get("requests") or {}).get("cpu", "0"))
    threads = ccfg.get("threads", 1)
    if cpu is None or cpu != int(cpu) or int(cpu) != threads:
        c.err("%s/classifier: CPU request %s is not classifier.threads (%s) whole cores"
              % (name, (res.get("requests") or {}).get("cpu"), threads))
    if gpu:
        if str((res.get("limits") or {}).get("nvidia.com/gpu")) != "1":
            c.err("%s/classifier: nvidia.com/gpu limit is not 1" % name)
        mem = quantity((res.get("limits") or {}).get("memory", "0"))
        if mem is None or mem < 2**30:
            c.err("%s/classifier: memory limit under 1Gi leaves no room for the CUDA libraries" % name)
    # the probes: on the frontend, on the port the configuration listens on
    fe = mounts_by_container["frontend"][0]
    ports = {p.get("name"): p.get("containerPort") for p in fe.get("ports", [])}
    if ports.get("http") != port:
        c.err("%s: frontend port http=%s but server.port=%s" % (name, ports.get("http"), port))
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        hg = (fe.get(probe) or {}).get("httpGet") or {}
        if hg.get("path") != path or hg.get("port") not in ("http", port):
            c.err("%s: frontend %s is not GET %s on the http port" % (name, probe, path))
    return cfg


def check_render(label, docs, exe, gpu, probes=False):
    c = Checker(label)
    by_kind = {}
    ns_objects = {}
    configmaps = {}
    namespaces = set()
    for d in docs:
        kind = d.get("kind")
        c.fields(d, "top", "%s object" % kind)
        md = c.fields(d.get("metadata") or {}, "metadata", "%s.metadata" % kind)
        name = md.get("name", "")
        if kind not in API:
            c.err("unexpected kind %r (%s)" % (kind, name))
            continue
        want_api, namespaced = API[kind]
        if d.get("apiVersion") != want_api:
            c.err("%s/%s: apiVersion %r, want %r" % (kind, name, d.get("apiVersion"), want_api))
        if not NAME_RE.match(name) or len(name) > 253:
            c.err("%s: invalid name %r" % (kind, name))
        if namespaced and not md.get("namespace"):
            c.err("%s/%s: no namespace" % (kind, name))
        if not namespaced and md.get("namespace"):
            c.err("%s/%s: cluster-scoped with a namespace" % (kind, name))
        by_kind.setdefault(kind, []).append(d)
        ns_objects.setdefault(kind, set()).add(name)
        if kind == "ConfigMap":
            configmaps[name] = d
        if kind == "Namespace":
            namespaces.add(name)
    is_switchyard = "DaemonSet" in by_kind
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        if kind in by_kind:
            c.err("%s present: discovery needs only its namespace" % kind)
    # RBAC
    roles = {r["metadata"]["name"]: r for r in by_kind.get("Role", [])}
    for r in roles.values():
        for rule in r.get("rules", []):
            verbs = set(rule.get("verbs", []))
            if not verbs <= RBAC_VERBS:
                c.err("Role %s: verbs %s beyond %s" % (r["metadata"]["name"], sorted(verbs - RBAC_VERBS),
                                                       sorted(RBAC_VERBS)))
            for g in rule.get("apiGroups", []):
                for res in rule.get("resources", []):
                    if (g, res) not in RBAC_RESOURCES:
                        c.err("Role %s: %s/%s is more than discovery reads" % (r["metadata"]["name"], g, res))
            if "resourceNames" in rule or "nonResourceURLs" in rule:
                c.err("Role %s: unexpected rule fields" % r["metadata"]["name"])
    for rb in by_kind.get("RoleBinding", []):
        ref = rb.get("roleRef", {})
        if ref.get("kind") != "Role" or ref.get("name") not in roles:
            c.err("RoleBinding %s: roleRef %s not a Role in the output" % (rb["metadata"]["name"], ref))
        for s in rb.get("subjects", []):
            if s.get("kind") != "ServiceAccount" or s.get("name") not in ns_objects.get("ServiceAccount", set()):
                c.err("RoleBinding %s: subject %s is not our ServiceAccount" % (rb["metadata"]["name"], s))
            elif s.get("namespace") != rb["metadata"].get("namespace"):
                c.err("RoleBinding %s: subject in namespace %s" % (rb["metadata"]["name"], s.get("namespace")))
    if is_switchyard and not roles:
        c.err("no Role for discovery")
    for ns in set(d["metadata"].get("namespace") for d in docs if d["metadata"].get("namespace")):
        if is_switchyard and ns not in namespaces:
            c.err("namespace %s used but not created" % ns)
    # workloads
    pod_labels = []
    cfg = None
    for kind in ("DaemonSet", "Deployment"):
        for w in by_kind.get(kind, []):
            wname = "%s/%s" % (kind, w["metadata"]["name"])
            spec = c.fields(w.get("spec"), kind + ".spec", wname + ".spec")
            tmpl = c.fields(spec.get("template"), "template", wname + ".template")
            c.fields(tmpl.get("metadata") or {}, "metadata", wname + ".template.metadata")
            labels = (tmpl.get("metadata") or {}).get("labels", {})
            sel = (spec.get("selector") or {}).get("matchLabels", {})
            if not sel or any(labels.get(k) != v for k, v in sel.items()):
                c.err("%s: selector %s does not match the template's labels" % (wname, sel))
            pod_labels.append(labels)
            pspec, volumes, mounts = check_pod(c, wname, tmpl, gpu and kind == "DaemonSet", ns_objects, configmaps,
                                               kind == "DaemonSet")
            if kind == "DaemonSet":
                got = check_switchyard_pod(c, wname, pspec, volumes, mounts, configmaps, exe,
                                           gpu, probes)
                cfg = got or cfg
    # Services select pods that exist, on ports they have
    for s in by_kind.get("Service", []):
        sname = "Service/" + s["metadata"]["name"]
        spec = c.fields(s.get("spec"), "Service.spec", sname)
        sel = spec.get("selector") or {}
        if not any(all(l.get(k) == v for k, v in sel.items()) for l in pod_labels):
            c.err("%s: selector %s matches no pod template" % (sname, sel))
        for p in spec.get("ports", []):
            c.fields(p, "ServicePort", sname + ".ports")
        if spec.get("type") == "LoadBalancer" or spec.get("externalIPs"):
            c.err("%s: exposed beyond the cluster by default" % sname)
    return c, cfg, by_kind


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    k8s = os.path.abspath(sys.argv[1])
    exe = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
    tools = kubectls()
    targets = [("base", os.path.join(k8s, "base"), False)]
    overlays = sorted(os.listdir(os.path.join(k8s, "overlays")))
    for o in overlays:
        targets.append(("overlays/" + o, os.path.join(k8s, "overlays", o), o in GPU_OVERLAYS))
    for o in GPU_OVERLAYS + (PROBES_OVERLAY,):
        if o not in overlays:
            print("FAIL: overlay %s is missing" % o)
            return 1
    errors = []
    base_cfg = None
    for o in GPU_OVERLAYS:
        if os.path.exists(os.path.join(k8s, "overlays", o, "classifier-slot.yaml")):
            errors.append("overlays/%s: classifier-slot.yaml is left over (classifier-gpu.yaml replaced it)" % o)
    for label, path, gpu in targets:
        outs = []
        for tool in tools:
            try:
                outs.append(render(tool, path))
            except RuntimeError as e:
                errors.append("%s: %s" % (label, e))
        if not outs:
            continue
        # the content hash in generated names may differ between kustomize versions
        norm = [re.sub(r"(switchyard-config)-[a-z0-9]{10}", r"\1-HASH", o) for o in outs]
        parsed = [list(yaml.safe_load_all(n)) for n in norm]
        if any(p != parsed[0] for p in parsed[1:]):
            errors.append("%s: the kubectl versions render differently" % label)
        docs = docs_of(outs[0])
        c, cfg, by_kind = check_render(label, docs, exe, gpu, label == "overlays/" + PROBES_OVERLAY)
        errors += c.errors
        if label == "base":
            base_cfg = cfg
        kinds = ", ".join("%d %s" % (len(v), k) for k, v in sorted(by_kind.items()))
        print("%-32s %s%s" % (label, kinds, "" if not c.errors else "  (%d problems)" % len(c.errors)))
    # the demo: every upstream host of the configuration is one of its Services
    demo = os.path.join(k8s, "demo")
    if os.path.isdir(demo):
        docs = docs_of(render(tools[0], demo))
        c, _, by_kind = check_render("demo", docs, None, False)
        errors += c.errors
        svcs = {"%s.%s.svc.cluster.local" % (s["metadata"]["name"], s["metadata"]["namespace"]):
                [p["port"] for p in s["spec"]["ports"]] for s in by_kind.get("Service", [])}
        for u in (base_cfg or {}).get("upstreams", []):
            m = re.match(r"^http://([^:/]+)(?::(\d+))?", u["url"])
            host, port = m.group(1), int(m.group(2) or 80)
            if port not in svcs.get(host, []):
                errors.append("demo: no Service for upstream %s (%s:%d)" % (u["name"], host, port))
        print("%-32s %s" % ("demo", ", ".join("%d %s" % (len(v), k) for k, v in sorted(by_kind.items()))))
    for e in errors:
        print("FAIL: " + e)
    print("k8s: %d renders with %s, %d problems" % (len(targets) + 1,
                                                    ", ".join(os.path.basename(t) for t in tools), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
