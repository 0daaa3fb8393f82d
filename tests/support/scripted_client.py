"""A stand-in for the local pipeline client: prints a scripted run as the real client does.

    python scripted_client.py SCRIPT.json

The script is `{"lines": [...], "exit": N, "pid_file": PATH}`; each line is either a JSON-lines
event (`etl_assets.engines.local.progress.encode` of a classified message, made by the test
from the messages Spark Declarative Pipelines sends) or plain text, or `{"sleep": seconds}`.
The local engine reads its output through the real runner, so the contract tests can make the
local engine meet what Spark itself cannot be made to do on cue (an event arriving after the
run's end, a flow that never reports, a run that hangs until it is stopped).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    script = json.loads(Path(sys.argv[1]).read_text())
    if script.get("pid_file"):
        Path(script["pid_file"]).write_text(str(os.getpid()))
    for line in script["lines"]:
        if isinstance(line, dict):
            time.sleep(line["sleep"])
            continue
        print(line, flush=True)
    sys.exit(script.get("exit", 0))


if __name__ == "__main__":
    main()
