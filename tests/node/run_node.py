"""Starts simulated servers and switchyard, then runs the OpenAI Node SDK
tests against them. Skips (77) when node or the npm packages are missing
(scripts/test.sh installs them).
usage: run_node.py SWITCHYARD SIMLLM"""
import hashlib
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Sim, Switchyard  # noqa: E402

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
PHI = "/models/Phi-tiny-MoE-instruct"
# model "auto" with the embedded default classifier model: math -> PHI,
# computer science -> LLAMA (as in guide 000, with the demo's models)
AUTO = """
default_model: %s
classifier:
  timeout_ms: 2000
categories:
  - name: math
    model_scores: [{model: "%s", score: 1.0}]
  - name: computer science
    model_scores: [{model: "%s", score: 1.0}]
""" % (LLAMA, PHI, LLAMA)


# keys, a per-key limit and a PII policy (guard.test.mjs); the classifier's
# deadline as AUTO's: at the default 50 ms a loaded machine answers some
# guarded requests 503 guard_unavailable, which is not what these tests test
NODE_KEY = "sk-node-sdk-key-1"
GUARD = """
classifier:
  timeout_ms: 2000
auth:
  api_keys:
    - name: node
      key_sha256: "%s"
    - name: limited
      key_sha256: "%s"
      models: ["%s"]
      requests_per_minute: 3
model_config:
  "%s":
    pii_policy: {allow_by_default: false}
""" % (hashlib.sha256(NODE_KEY.encode()).hexdigest(), hashlib.sha256(b"sk-node-limited-2").hexdigest(), LLAMA, LLAMA)


def wait_classifier(sy, headers=None, model="auto"):
    """The classifier loads its model after the frontend is up."""
    deadline = time.time() + 30
    while time.time() < deadline:
        st, h, _ = sy.request("POST", "/v1/chat/completions",
                              {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
                              headers=headers)
        if model == "auto" and h.get("x-switchyard-classifier") not in (None, "unavailable"):
            return
        if model != "auto" and st == 200:
            return
        time.sleep(0.2)


def main():
    if not shutil.which("node"):
        print("SKIP: node is not installed")
        sys.exit(77)
    if not os.path.isdir(os.path.join(HERE, "node_modules", "openai")):
        print("SKIP: tests/node/node_modules/openai missing: run `npm ci` in tests/node (scripts/test.sh does)")
        sys.exit(77)
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sims = [Sim(sim_exe, "llama-vllm", [LLAMA], "vllm"),
            Sim(sim_exe, "llama-sglang", [LLAMA], "sglang"),
            Sim(sim_exe, "phi-vllm", [PHI], "vllm", extra=["--itl-ms", "100"])]
    for s in sims:
        s.start()
    sy = Switchyard(sy_exe, sims, AUTO)
    gy = Switchyard(sy_exe, sims, GUARD)
    rc = 1
    try:
        sy.start()
        wait_classifier(sy)
        gy.start()
        wait_classifier(gy, {"Authorization": "Bearer " + NODE_KEY}, LLAMA)
        env = dict(os.environ, SWITCHYARD_URL="http://127.0.0.1:%d" % sy.port,
                   SWITCHYARD_GUARD_URL="http://127.0.0.1:%d" % gy.port,
                   SIMLLM_PHI_URL="http://127.0.0.1:%d" % sims[2].port)
        rc = subprocess.run(["node", "--test", "--test-reporter=spec", os.path.join(HERE, "sdk.test.mjs"),
                             os.path.join(HERE, "guard.test.mjs")], env=env, cwd=HERE).returncode
    finally:
        sy.stop()
        gy.stop()
        for s in sims:
            s.kill()
    log = sy.read_log()
    for pat in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        if pat in log:
            print("FAIL: %s report in the switchyard log" % pat)
            rc = rc or 1
    if rc != 0:
        print(log[-4000:])
    sys.exit(rc)


if __name__ == "__main__":
    main()
