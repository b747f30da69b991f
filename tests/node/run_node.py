"""Starts simulated servers and switchyard, then runs the OpenAI Node SDK
tests against them. Skips (77) when node or the npm packages are missing
(scripts/test.sh installs them).
usage: run_node.py SWITCHYARD SIMLLM"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Sim, Switchyard  # noqa: E402

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
PHI = "/models/Phi-tiny-MoE-instruct"


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
    sy = Switchyard(sy_exe, sims)
    rc = 1
    try:
        sy.start()
        env = dict(os.environ, SWITCHYARD_URL="http://127.0.0.1:%d" % sy.port)
        rc = subprocess.run(["node", "--test", "--test-reporter=spec", os.path.join(HERE, "sdk.test.mjs")],
                            env=env, cwd=HERE).returncode
    finally:
        sy.stop()
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
