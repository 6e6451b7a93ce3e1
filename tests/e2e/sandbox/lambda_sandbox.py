"""Run a `sam build`'s function and layer the way AWS Lambda would, on one S3 upload, offline.

    python -m tests.e2e.sandbox.lambda_sandbox \\
        --function-dir BUILD/OcrFunction --layer-dir BUILD/AsposeOcrLayer \\
        --runtime-dir RUNTIME [--image scan.png] [--key "scans/счёт 7 + notes.png"]

    python -m tests.e2e.sandbox.lambda_sandbox \\
        --function-dir BUILD/OcrFunction --layer-dir BUILD/TesseractLayer \\
        --runtime-dir RUNTIME --parameter OcrEngine=tesseract \\
        --upload '{"key": "a.png", "image": "a.png"}' \\
        --upload '{"key": "b.png", "image": "b.png", "metadata": {"ocr-language": "ru+en"}}' \\
        --probe-import aspose

(from the repository root, as root). RUNTIME holds boto3 as Lambda's python runtime ships it in
/var/runtime; ``prepare_runtime_dir`` makes one. ``--parameter NAME=VALUE`` (repeatable) are
template parameters: the function's memory, timeout and variables are template.yaml's resolved
for them, as for a stack deployed with those parameters. Each ``--upload`` (repeatable; without
one, ``--image`` and ``--key``) is one object uploaded with its user metadata and one S3 put
event; the events are invoked in order in the same Lambda process (a cold invocation, then warm
ones). ``--probe-import MODULE`` (repeatable) is tried after the last invocation (see
bootstrap.py). The harness prints ONE JSON report on stdout: the Lambda process's exit code and
output tails, Init and Invoke seconds, the handler's results, every object of the output bucket
(body, ContentType, Metadata), and what the process wrote or tried to write outside /tmp. Exit
status: 0 if every invocation succeeded, 1 if the function failed, 2 if the sandbox could not be
set up (the report then has ``sandbox_error``).

How, with nothing changed on the host's file system:

1. The harness re-executes itself in new mount, network and PID namespaces
   (``unshare --mount --net --pid --fork``): mounts are private, only loopback is up, and every
   process it starts dies with it.
2. A moto server listens on 127.0.0.1 in that network namespace, the only endpoint the
   function can reach. The harness creates the buckets, and a local stand-in for every other
   resource the function's variables `!Ref` (an SQS queue: its URL), uploads each image with its
   metadata and builds each S3 put event as S3 would send it (``tools.events``).
3. A new root is assembled on a tmpfs mounted over ``--staging-dir`` (an empty host directory,
   /srv by default; the mount is private to the namespace): read-only binds of the host's /usr
   and /etc (/bin, /lib, /lib64, /sbin as on the host), the runtime's Python install at /var/lang,
   the function at /var/task, the layer at /opt, RUNTIME at /var/runtime and bootstrap.py at
   /var/rapid; a fresh tmpfs /tmp of the function's ephemeral storage size; a new /proc; a /dev
   with null, zero, full, random and urandom only (Lambda has no /dev/shm). Then the new root's
   own tmpfs is made read-only too: only /tmp is writable.
4. The Lambda process is ``unshare --root=NEWROOT --wd=/var/task setpriv --reuid=993 ...
   /var/lang/bin/python3.12 -S /var/rapid/bootstrap.py``: chrooted, as an unprivileged user like
   Lambda's sbx_user1051 (so files the deployment does not make world-readable fail here as they
   would there), with `-S` (none of the host interpreter's site-packages) and an environment of
   exactly what Lambda sets, plus the function's variables from template.yaml and
   AWS_ENDPOINT_URL. bootstrap.py emulates Lambda's python runtime (see there). With strace
   available, the process runs under ``strace -ff`` tracing only file-writing system calls, so
   native code's write attempts (the .NET runtime's) are reported too.
5. The harness compares the new root outside /tmp before and after, reads the output bucket
   back, and prints the report.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[3]
BOOTSTRAP = Path(__file__).resolve().with_name("bootstrap.py")

DEFAULT_KEY = "scans/счёт 7 + notes.png"
INPUT_BUCKET = "sandbox-input"
OUTPUT_BUCKET = "sandbox-output"
REGION = "us-east-1"
DEFAULT_STAGING_DIR = Path("/srv")

#: Lambda runs functions as sbx_user1051 (uid 993, gid 990), never as root.
LAMBDA_UID = 993
LAMBDA_GID = 990
#: Lambda's default /tmp (ephemeral storage) when the template does not set EphemeralStorage.
DEFAULT_EPHEMERAL_MB = 512
#: Lambda's limit for the Init phase of an on-demand function.
INIT_LIMIT_SECONDS = 10.0

# Inside the new root.
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
LANG_DIR = "/var/lang"
BOOTSTRAP_PATH = "/var/rapid/bootstrap.py"

#: What Lambda sets in every python3.12 function's environment (AWS's documented values).
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIASANDBOXSANDBOX00",
    "AWS_SECRET_ACCESS_KEY": "sandbox-secret-access-key",
    "AWS_SESSION_TOKEN": "sandbox-session-token",
}

#: System calls that create, change or remove files: traced with strace, nothing else.
WRITE_SYSCALLS = (
    "open,openat,openat2,creat,mkdir,mkdirat,rmdir,unlink,unlinkat,rename,renameat,renameat2,"
    "link,linkat,symlink,symlinkat,truncate,chmod,fchmodat,chown,lchown,fchownat,mknod,mknodat,"
    "utime,utimes,utimensat,futimesat,setxattr,lsetxattr,removexattr,lremovexattr"
)
_OPEN_WRITE_FLAGS = re.compile(r"\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND|TMPFILE)\b")
_STRACE_LINE = re.compile(r"^(?P<call>\w+)\((?P<args>.*)\)\s+= (?P<result>-?\d+|\?)(?P<rest>.*)$")
_STRACE_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_STRACE_DIRFD = re.compile(r"(?:^|, )(?:AT_FDCWD|-?\d+)<(?P<path>[^>]*)>, ")
_ERRNO = re.compile(r"^\s*(?P<errno>E[A-Z0-9]+)")

TAIL_CHARS = 6000
#: New mount, network and PID namespaces, mounts private: the harness's world.
UNSHARE = ("unshare", "--mount", "--net", "--pid", "--fork", "--propagation", "private", "--")


class SandboxError(RuntimeError):
    """The sandbox could not be set up; nothing of the function ran (or could be judged)."""


@dataclass(frozen=True)
class UploadSpec:
    """One object to upload to the input bucket (and one S3 put event for it)."""

    key: str
    image: Path | None = None
    """The file to upload; None: a rendered page (``tools.samples.render_lines``)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """User metadata, without the ``x-amz-meta-`` prefix (``{"ocr-language": "ru+en"}``)."""

    @classmethod
    def parse(cls, value: str) -> UploadSpec:
        """``{"key": "a.png", "image": "a.png", "metadata": {"ocr-language": "ru"}}``."""
        try:
            spec = json.loads(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"--upload {value!r}: not JSON ({error})") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            raise argparse.ArgumentTypeError(f'--upload {value!r}: needs at least a "key"')
        unknown = set(spec) - {"key", "image", "metadata"}
        metadata = spec.get("metadata") or {}
        if unknown or not isinstance(metadata, dict):
            raise argparse.ArgumentTypeError(
                f"--upload {value!r}: expected key, image and metadata (an object)"
            )
        image = spec.get("image")
        return cls(
            key=spec["key"],
            image=Path(image).absolute() if image else None,
            metadata={str(name): str(text) for name, text in metadata.items()},
        )

    def to_json(self) -> str:
        image = str(self.image) if self.image else None
        return json.dumps({"key": self.key, "image": image, "metadata": self.metadata})


def parse_parameter(value: str) -> tuple[str, str]:
    """``"OcrEngine=tesseract"`` -> ("OcrEngine", "tesseract")."""
    name, sep, text = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected NAME=VALUE, e.g. OcrEngine=tesseract"
        )
    return name.strip(), text


# --- what the template declares ----------------------------------------------------------------


@dataclass(frozen=True)
class FunctionConfig:
    """The parts of a function's template definition that shape its execution environment."""

    logical_id: str
    runtime: str
    handler: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]

    @classmethod
    def from_template(
        cls,
        logical_id: str,
        output_bucket: str,
        parameters: dict[str, str] | None = None,
        resources: Mapping[str, str] | None = None,
    ) -> FunctionConfig:
        """Read template.yaml (Globals merged) and resolve the function's properties and
        variables for the parameters (the template's defaults unless given). ``resources``
        names what the variables' other `!Ref`s to resources stand for (a queue's URL, ...);
        see :func:`environment_resources`."""
        from tools.template_env import function_environment, function_property, function_runtime

        def resolved(name: str, default: object) -> object:
            value = function_property(name, logical_id, parameters)
            return default if value is None else value

        ephemeral = resolved("EphemeralStorage", {"Size": DEFAULT_EPHEMERAL_MB})
        return cls(
            logical_id=logical_id,
            runtime=function_runtime(logical_id, parameters),
            handler=str(resolved("Handler", "")),
            memory_mb=int(str(resolved("MemorySize", 128))),
            timeout_s=int(str(resolved("Timeout", 3))),
            ephemeral_mb=int(ephemeral["Size"]) if isinstance(ephemeral, dict) else 0,
            environment=function_environment(
                {**(resources or {}), "OutputBucket": output_bucket}, parameters, logical_id
            ),
        )


def environment_resources(logical_id: str) -> dict[str, str]:
    """The template's resources the function's environment variables `!Ref` (logical id ->
    type), in either branch of an `!If`: the sandbox stands in for each of them locally."""
    from tools.template_env import load_template

    resources = load_template()["Resources"]
    properties = resources[logical_id]["Properties"]
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                if name == "Ref" and isinstance(value, str) and value in resources:
                    found[value] = resources[value]["Type"]
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(properties.get("Environment", {}).get("Variables", {}))
    return found


def stand_ins(logical_id: str, s3: Any, sqs: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Create on the local endpoint what the function's variables refer to; return what each
    `!Ref` stands for there (a bucket's name, a queue's URL), and the queues' URLs alone."""
    buckets = {"InputBucket": INPUT_BUCKET, "OutputBucket": OUTPUT_BUCKET}
    values: dict[str, str] = {}
    queues: dict[str, str] = {}
    for name, kind in sorted(environment_resources(logical_id).items()):
        if kind == "AWS::S3::Bucket":
            values[name] = buckets.get(name, f"sandbox-{name.lower()}")
            if name not in buckets:
                s3.create_bucket(Bucket=values[name])
        elif kind == "AWS::SQS::Queue":
            values[name] = queues[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        else:
            raise SandboxError(f"{logical_id}'s environment refers to {name} ({kind}): no stand-in")
    return values, queues


def drain_queues(sqs: Any, queues: Mapping[str, str]) -> dict[str, list[str]]:
    """The message bodies waiting in each stand-in queue (what the function sent)."""
    drained: dict[str, list[str]] = {}
    for name, url in queues.items():
        bodies: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
            if not messages:
                break
            bodies += [message["Body"] for message in messages]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        drained[name] = bodies
    return drained


def lambda_environment(config: FunctionConfig, endpoint_url: str) -> dict[str, str]:
    """Exactly what Lambda puts in the function's environment, plus the local S3 endpoint.

    Lambda's reserved variables cannot be overridden by the function's own ones, so they win.
    """
    name = config.logical_id
    reserved = {
        "_HANDLER": config.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **FAKE_CREDENTIALS,
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH,
        "PATH": LAMBDA_PATH,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
    }
    clash = sorted(set(reserved) & set(config.environment))
    if clash:
        raise SandboxError(f"the template sets Lambda's reserved variables {clash}")
    return {**config.environment, **reserved, "AWS_ENDPOINT_URL": endpoint_url}


# --- the runtime's interpreter and /var/runtime ---------------------------------------------------


@dataclass(frozen=True)
class RuntimePython:
    """A host install of the runtime's Python, to be mounted at /var/lang."""

    home: Path
    """The install prefix (sys.base_prefix), e.g. /root/.pyenv/versions/3.12.1."""
    executable: Path
    """The interpreter, relative to ``home`` (bin/python3.12)."""

    @property
    def sandbox_executable(self) -> str:
        return posixpath.join(LANG_DIR, self.executable.as_posix())


def find_runtime_python(runtime: str, explicit: Path | None = None) -> RuntimePython:
    """The host's interpreter for ``runtime`` (python3.12): ``explicit``, on PATH, or pyenv's."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    if match is None:
        raise SandboxError(f"runtime {runtime!r} is not a python runtime")
    version = f"{match[1]}.{match[2]}"
    candidates: list[str] = [str(explicit)] if explicit else []
    if not explicit:
        candidates += [shutil.which(runtime) or ""]
        for base in (Path.home() / ".pyenv/versions", Path("/root/.pyenv/versions")):
            candidates += sorted(map(str, base.glob(f"{version}*/bin/{runtime}")), reverse=True)
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)"
    for candidate in filter(None, candidates):
        real = Path(candidate).resolve()
        try:
            out = subprocess.run(
                [str(real), "-S", "-c", probe],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        lines = out.stdout.split()
        if out.returncode != 0 or len(lines) != 2 or lines[0] != version:
            continue
        home = Path(lines[1])
        if real.is_relative_to(home):
            return RuntimePython(home=home, executable=real.relative_to(home))
    raise SandboxError(f"no {runtime} interpreter found (tried {candidates}); pass --python")


def prepare_runtime_dir(target: Path, python: str = sys.executable) -> Path:
    """Install into ``target`` what Lambda's python runtime ships in /var/runtime: boto3.

    The versions are this environment's boto3 and botocore, so the sandbox matches the tests.
    ``target`` is made world-readable: the sandbox's unprivileged user must read it, as Lambda's
    user reads /var/runtime (pytest's temporary directories are private to their owner).
    """
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("boto3", "botocore")]
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-input", "--only-binary=:all:", "--target", str(target), *pins],
        check=True,
    )  # fmt: skip
    return target


# --- can we? ---------------------------------------------------------------------------------


def sandbox_unavailable_reason(staging_dir: Path = DEFAULT_STAGING_DIR) -> str | None:
    """Why the sandbox cannot run on this machine, or None if it can."""
    if os.geteuid() != 0:
        return "the Lambda sandbox needs root (mount and network namespaces, chroot, tmpfs)"
    for tool in ("unshare", "mount", "ip", "setpriv"):
        if shutil.which(tool) is None:
            return f"the Lambda sandbox needs `{tool}` (util-linux / iproute2)"
    if not staging_dir.is_dir():
        return f"the staging directory {staging_dir} does not exist (pass --staging-dir)"
    script = 'mount -t tmpfs probe "$0" && ip link set lo up'
    probe = [*UNSHARE, "sh", "-c", script, str(staging_dir)]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`unshare` failed: {error}"
    if done.returncode != 0:
        return f"{' '.join(UNSHARE)} is not permitted here: {done.stderr.strip()}"
    return None


# --- mounts ----------------------------------------------------------------------------------


@dataclass
class SandboxRoot:
    """The new root, assembled on a tmpfs inside the (private) mount namespace."""

    path: Path
    mounts: list[dict[str, str]] = field(default_factory=list)

    def _mount(self, *args: str) -> None:
        done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SandboxError(f"mount {' '.join(args)}: {done.stderr.strip()}")

    def inside(self, target: str) -> Path:
        return self.path / target.lstrip("/")

    def bind_ro(self, source: Path, target: str) -> None:
        """Bind ``source`` (a directory or file) read-only at ``target`` in the new root."""
        if not source.exists():
            raise SandboxError(f"{source} does not exist (to be mounted at {target})")
        where = self.inside(target)
        if source.is_dir():
            where.mkdir(parents=True, exist_ok=True)
        else:
            where.parent.mkdir(parents=True, exist_ok=True)
            where.touch()
        self._mount("--bind", str(source), str(where))
        self._mount("-o", "remount,bind,ro,nosuid", str(where))
        self.mounts.append({"target": target, "source": str(source), "options": "ro,bind"})

    def tmpfs(self, target: str, size: str, mode: str) -> None:
        where = self.inside(target)
        where.mkdir(parents=True, exist_ok=True)
        options = f"size={size},mode={mode},nosuid,nodev"
        self._mount("-t", "tmpfs", "-o", options, "tmpfs", str(where))
        self.mounts.append({"target": target, "source": "tmpfs", "options": options})

    def proc(self) -> None:
        where = self.inside("/proc")
        where.mkdir(exist_ok=True)
        self._mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(where))
        self.mounts.append({"target": "/proc", "source": "proc", "options": "new, pid namespace"})

    def dev(self) -> None:
        """A minimal /dev like Lambda's: device nodes bound from the host, no /dev/shm."""
        self.tmpfs("/dev", "64k", "0755")
        for node in ("null", "zero", "full", "random", "urandom"):
            where = self.inside(f"/dev/{node}")
            where.touch()
            self._mount("--bind", f"/dev/{node}", str(where))
        self.inside("/dev/fd").symlink_to("/proc/self/fd")
        for number, name in enumerate(("stdin", "stdout", "stderr")):
            self.inside(f"/dev/{name}").symlink_to(f"/proc/self/fd/{number}")
        self._mount("-o", "remount,ro,nosuid", str(self.inside("/dev")))
        self.mounts[-1]["options"] += " (then read-only)"

    def host_system(self) -> None:
        """The host's /usr and /etc read-only; /bin, /lib, /lib64, /sbin as the host has them."""
        for name in ("usr", "etc"):
            self.bind_ro(Path("/", name), f"/{name}")
        for name in ("bin", "lib", "lib64", "sbin"):
            host = Path("/", name)
            if host.is_symlink():
                self.inside(f"/{name}").symlink_to(os.readlink(host))
            elif host.is_dir():
                self.bind_ro(host, f"/{name}")

    def seal(self) -> None:
        """Make the new root's own tmpfs read-only: from now on only /tmp is writable."""
        self._mount("-o", "remount,ro,nosuid", str(self.path))
        self.mounts[0]["options"] += " (then read-only)"


@dataclass(frozen=True)
class Artifacts:
    """What the sandbox runs: host directories mounted read-only at Lambda's paths."""

    function_dir: Path
    """The built function (``BUILD/OcrFunction``), at /var/task."""
    layer_dir: Path
    """The built layer the deployment attaches (``BUILD/AsposeOcrLayer``), at /opt."""
    runtime_dir: Path
    """boto3 and botocore (``prepare_runtime_dir``), at /var/runtime."""


def build_root(
    path: Path, python: RuntimePython, artifacts: Artifacts, *, ephemeral_mb: int
) -> SandboxRoot:
    """Assemble the Lambda-like root on a fresh tmpfs at ``path`` (see the module docstring)."""
    path.mkdir(parents=True, exist_ok=True)
    root = SandboxRoot(path)
    root.tmpfs("/", "16m", "0755")
    root.host_system()
    root.bind_ro(python.home, LANG_DIR)
    root.bind_ro(artifacts.function_dir, TASK_ROOT)
    root.bind_ro(artifacts.layer_dir, "/opt")
    root.bind_ro(artifacts.runtime_dir, RUNTIME_DIR)
    root.bind_ro(BOOTSTRAP, BOOTSTRAP_PATH)
    root.tmpfs("/tmp", f"{ephemeral_mb}m", "1777")
    root.proc()
    root.dev()
    root.seal()
    return root


# --- observing the file system ----------------------------------------------------------------

#: Not walked: /tmp is the function's to write; the rest are the host's, read-only and large.
_SNAPSHOT_SKIP = frozenset({"tmp", "proc", "usr", "etc", "bin", "lib", "lib64", "sbin"})


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under the new root (except /tmp, /proc and the host's dirs): mode, size, mtime."""
    entries: dict[str, tuple[int, int, int]] = {}
    for directory, dirs, files in os.walk(root):
        relative = Path(directory).relative_to(root)
        if relative == Path("."):
            dirs[:] = [d for d in dirs if d not in _SNAPSHOT_SKIP]
        for name in [*dirs, *files]:
            full = Path(directory, name)
            info = full.lstat()
            entries["/" + (relative / name).as_posix()] = (
                info.st_mode,
                info.st_size,
                info.st_mtime_ns,
            )
    return entries


def files_in(directory: Path) -> list[dict[str, Any]]:
    """The regular files below ``directory`` with their sizes (what the function left in /tmp)."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            name = "/tmp/" + path.relative_to(directory).as_posix()
            found.append({"path": name, "bytes": path.stat().st_size})
    return found


@dataclass(frozen=True)
class WriteAttempt:
    """One file-writing system call of the Lambda process, as strace saw it."""

    syscall: str
    path: str
    result: str
    """"ok", or the errno name (EROFS, EACCES, ...), or "?" when the process died in the call."""


def _unescape(strace_string: str) -> str:
    """strace prints non-ASCII bytes as octal escapes: decode them back to UTF-8 text."""
    raw = strace_string.encode("ascii", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def parse_strace_line(line: str, cwd: str = TASK_ROOT) -> WriteAttempt | None:
    """The write attempt a line of ``strace -y`` describes, or None (a read-only open, etc.)."""
    match = _STRACE_LINE.match(line.strip())
    if match is None:
        return None
    call, args = match["call"], match["args"]
    strings = list(_STRACE_STRING.finditer(args))
    if not strings:
        return None
    if call.startswith("open") and not _OPEN_WRITE_FLAGS.search(args[strings[0].end() :]):
        return None
    # The path written: the last string for symlink/link/rename (the new name), else the first.
    target = strings[-1] if call.startswith(("symlink", "link", "rename")) else strings[0]
    path = _unescape(target[1])
    if not path.startswith("/"):
        # *at calls name their directory: `AT_FDCWD</var/task>` or `5</tmp>` with strace -y.
        dirfds = list(_STRACE_DIRFD.finditer(args[: target.start()]))
        base = _unescape(dirfds[-1]["path"]) if dirfds else cwd
        path = posixpath.normpath(posixpath.join(base, path))
    if match["result"] == "?":
        result = "?"
    elif match["result"].startswith("-"):
        errno = _ERRNO.match(match["rest"])
        result = errno["errno"] if errno else "error"
    else:
        result = "ok"
    return WriteAttempt(call, path, result)


def write_attempts(trace_dir: Path) -> list[WriteAttempt]:
    """Every file-writing system call in the ``strace -ff`` output files under ``trace_dir``."""
    attempts = []
    for trace in sorted(trace_dir.glob("trace.*")):
        for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
            attempt = parse_strace_line(line)
            if attempt is not None:
                attempts.append(attempt)
    return attempts


def usable_strace() -> str | None:
    """strace's path if it is installed and may trace here (ptrace can be forbidden), else None."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    probe = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null", "true"]
    done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    return strace if done.returncode == 0 else None


def area(path: str) -> str:
    """Where a path is: "tmp" (the function's), "device" (/dev, /proc) or "outside-tmp"."""
    if path == "/tmp" or path.startswith("/tmp/"):
        return "tmp"
    if path.startswith(("/dev/", "/proc/")):
        return "device"
    return "outside-tmp"


# --- S3 -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_s3() -> Iterator[tuple[str, Any]]:
    """A moto server on 127.0.0.1 (a free port); yield its URL and an S3 client for it.

    The same endpoint serves SQS (:func:`local_client`), for queues the function refers to."""
    from tools.moto_server import moto_server

    # The harness's own client must not read the host's AWS configuration either.
    os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    with moto_server() as server:
        yield server.url, local_client("s3", server.url)


def local_client(service: Literal["s3", "sqs"], url: str) -> Any:
    """A boto3 client for ``service`` on the local endpoint, with the sandbox's credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def read_bucket(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every object of ``bucket``: key, text, ContentType and user Metadata."""
    objects = []
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        response = s3.get_object(Bucket=bucket, Key=item["Key"])
        body = response["Body"].read()
        objects.append(
            {
                "key": item["Key"],
                "bytes": len(body),
                "body": body.decode("utf-8", "replace"),
                "content_type": response.get("ContentType"),
                "metadata": response.get("Metadata", {}),
            }
        )
    return objects


# --- the Lambda process -------------------------------------------------------------------------


def tail(text: str, chars: int = TAIL_CHARS) -> str:
    return text if len(text) <= chars else "..." + text[-chars:]


def structured_logs(stdout: str) -> list[dict[str, Any]]:
    """The JSON log lines (Powertools' format) of the function's stdout."""
    logs = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and "message" in entry:
                    logs.append(entry)
    return logs


def run_lambda_process(
    root: SandboxRoot,
    python: RuntimePython,
    environment: Mapping[str, str],
    events: Sequence[Mapping[str, Any]],
    *,
    config: FunctionConfig,
    work: Path,
    strace: str | None,
    process_timeout: float,
    probes: Sequence[str] = (),
) -> dict[str, Any]:
    """Start the runtime emulation in the new root, feed it the events (one invocation each, in
    the same process), and collect everything."""
    report_path = work / "bootstrap-report.json"
    trace_dir = work / "strace"
    trace_dir.mkdir()
    command = [
        "unshare", f"--root={root.path}", f"--wd={TASK_ROOT}", "--",
        "setpriv", f"--reuid={LAMBDA_UID}", f"--regid={LAMBDA_GID}", "--clear-groups",
        "--no-new-privs", "--",
        python.sandbox_executable, "-S", BOOTSTRAP_PATH, "--timeout", str(config.timeout_s),
    ]  # fmt: skip
    for module in probes:
        command += ["--probe-import", module]
    if strace:
        command = [
            strace, "-ff", "-y", "-qq", "--seccomp-bpf", "-s", "4096",
            "-e", f"trace={WRITE_SYSCALLS}", "-o", str(trace_dir / "trace"), *command,
        ]  # fmt: skip
    with report_path.open("w+", encoding="utf-8") as report_file:
        fd = report_file.fileno()
        command += ["--report-fd", str(fd)]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environment),
            pass_fds=(fd,),
            start_new_session=True,
        )
        timed_out = False
        try:
            lines = "".join(json.dumps(event) + "\n" for event in events)  # JSON Lines
            stdout, stderr = process.communicate(lines.encode(), process_timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)  # the process group this harness started
            stdout, stderr = process.communicate()
        wall = time.perf_counter() - started
        report_file.seek(0)
        raw_report = report_file.read()
    runtime_report: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):
        runtime_report = json.loads(raw_report)
    out_text = stdout.decode("utf-8", "replace")
    err_text = stderr.decode("utf-8", "replace")
    logs = structured_logs(out_text)
    engine_started = next((e for e in logs if e.get("message") == "engine started"), None)
    attempts = write_attempts(trace_dir) if strace else None
    return {
        "command": command,
        "exit_code": process.returncode,
        "timed_out": timed_out,
        "wall_seconds": round(wall, 3),
        "stdout_tail": tail(out_text),
        "stderr_tail": tail(err_text),
        "log_messages": [f"{e.get('level', '?')}: {e['message']}" for e in logs],
        "engine_started_log": engine_started,
        "runtime": runtime_report,
        "write_attempts": attempts,
    }


def summarize_attempts(attempts: Sequence[WriteAttempt] | None) -> dict[str, Any] | None:
    """Write attempts outside /tmp (deduplicated, counted) and how many went to /tmp."""
    if attempts is None:
        return None
    counts = Counter(a for a in attempts if area(a.path) == "outside-tmp")
    return {
        "outside_tmp": [{**asdict(a), "count": n} for a, n in sorted(counts.items(), key=str)],
        "outside_tmp_succeeded": sorted(
            {a.path for a in attempts if area(a.path) == "outside-tmp" and a.result == "ok"}
        ),
        "in_tmp": sum(1 for a in attempts if area(a.path) == "tmp"),
        "devices": sorted({a.path for a in attempts if area(a.path) == "device"}),
    }


# --- the whole run -----------------------------------------------------------------------------


def run_sandbox(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """Everything after the re-exec into the namespaces; return the report and exit status."""
    from tools.events import Upload, encode_key, s3_put_event, sqs_event
    from tools.samples import render_lines

    staging: Path = args.staging_dir
    sources = [args.function_dir, args.layer_dir, args.runtime_dir, BOOTSTRAP, REPO]
    for source in sources:
        if source.resolve().is_relative_to(staging.resolve()):
            raise SandboxError(f"{source} is under --staging-dir {staging}: choose another one")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

    from tools.template_env import function_runtime

    parameters = dict(args.parameter)
    python = find_runtime_python(function_runtime(args.function), args.python)
    specs: list[UploadSpec] = args.upload or [UploadSpec(args.key, args.image)]
    images = [spec.image.read_bytes() if spec.image else render_lines() for spec in specs]
    strace = None if args.no_strace else usable_strace()

    # A private scratch tmpfs over the staging directory: the new root and the harness's files.
    if not staging.is_dir():  # never created here: the host's file system stays as it is
        raise SandboxError(f"--staging-dir {staging} is not an existing directory")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "stage", str(staging)], check=True
    )
    work = staging / "work"
    work.mkdir()
    artifacts = Artifacts(args.function_dir, args.layer_dir, args.runtime_dir)

    with local_s3() as (endpoint, s3):
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        sqs = local_client("sqs", endpoint)
        resources, queue_urls = stand_ins(args.function, s3, sqs)
        config = FunctionConfig.from_template(
            args.function, OUTPUT_BUCKET, parameters or None, resources
        )
        root = build_root(staging / "root", python, artifacts, ephemeral_mb=config.ephemeral_mb)
        uploads = []
        for spec, image in zip(specs, images, strict=True):
            put = s3.put_object(
                Bucket=INPUT_BUCKET, Key=spec.key, Body=image, Metadata=spec.metadata
            )
            etag = put["ETag"].strip('"')
            uploads.append(Upload(INPUT_BUCKET, encode_key(spec.key), len(image), etag))
        # As the deployed stack delivers them: S3's notification inside an SQS message.
        events = [
            sqs_event([json.dumps(s3_put_event([upload], region=REGION))]) for upload in uploads
        ]
        environment = lambda_environment(config, endpoint)

        before = snapshot(root.path)
        process = run_lambda_process(
            root,
            python,
            environment,
            events,
            config=config,
            work=work,
            strace=strace,
            process_timeout=args.process_timeout,
            probes=args.probe_import,
        )
        after = snapshot(root.path)
        outputs = read_bucket(s3, OUTPUT_BUCKET)
        queues = drain_queues(sqs, queue_urls)

    runtime = process.pop("runtime")
    attempts = process.pop("write_attempts")
    created = sorted(set(after) - set(before))
    changed = sorted(p for p in set(after) & set(before) if after[p] != before[p])
    report: dict[str, Any] = {
        "sandbox": {
            "root_mounts": root.mounts,
            "python": {"host_home": str(python.home), "executable": python.sandbox_executable},
            "uid": LAMBDA_UID,
            "gid": LAMBDA_GID,
            "network": "own namespace, loopback only",
            "environment": environment,
            "strace": strace,
        },
        "function": {**asdict(config), "parameters": parameters, "resources": resources},
        # The first upload's (the cold invocation's); "inputs" and "events" list them all.
        "input": {
            "bucket": INPUT_BUCKET,
            "key": specs[0].key,
            "encoded_key": uploads[0].encoded_key,
            "bytes": len(images[0]),
        },
        "inputs": [
            {
                "bucket": INPUT_BUCKET,
                "key": spec.key,
                "encoded_key": upload.encoded_key,
                "bytes": len(image),
                "metadata": spec.metadata,
            }
            for spec, upload, image in zip(specs, uploads, images, strict=True)
        ],
        "event": events[0],
        "events": events,
        "lambda_process": process,
        "runtime": runtime,
        "init_seconds": runtime and runtime.get("init_seconds"),
        "invoke_seconds": runtime and runtime.get("invoke_seconds"),
        "init_within_lambda_limit": bool(
            runtime and (runtime.get("init_seconds") or 0) <= INIT_LIMIT_SECONDS
        ),
        "result": runtime and runtime.get("result"),
        "invocations": (runtime or {}).get("invocations", []),
        "error": runtime and runtime.get("error"),
        "output_bucket": OUTPUT_BUCKET,
        "outputs": outputs,
        "queues": queues,
        "filesystem": {
            "created_outside_tmp": created,
            "changed_outside_tmp": changed,
            "tmp_files": files_in(root.inside("/tmp")),
            "write_attempts": summarize_attempts(attempts),
        },
    }
    succeeded = process["exit_code"] == 0 and not process["timed_out"] and not report["error"]
    return report, 0 if succeeded else 1


def reexec_in_namespaces(args: argparse.Namespace) -> int:
    """Run this module again in new mount, network and PID namespaces; pass its output through."""
    reason = sandbox_unavailable_reason(args.staging_dir)
    if reason:
        print(json.dumps({"sandbox_error": reason}))
        return 2
    argv = ["--in-namespaces", "--key", args.key, "--function", args.function]
    argv += ["--staging-dir", str(args.staging_dir), "--process-timeout", str(args.process_timeout)]
    for option in ("function_dir", "layer_dir", "runtime_dir", "image", "python"):
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option.replace("_", "-"), str(value)]
    for name, value in args.parameter:
        argv += ["--parameter", f"{name}={value}"]
    for spec in args.upload:
        argv += ["--upload", spec.to_json()]
    for module in args.probe_import:
        argv += ["--probe-import", module]
    if args.no_strace:
        argv.append("--no-strace")
    command = [*UNSHARE, sys.executable, "-m", "tests.e2e.sandbox.lambda_sandbox", *argv]
    return subprocess.run(command, cwd=REPO, check=False).returncode


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--function-dir", type=Path, required=True, help="built function")
    parser.add_argument("--layer-dir", type=Path, required=True, help="built layer (at /opt)")
    parser.add_argument("--runtime-dir", type=Path, required=True, help="boto3 for /var/runtime")
    parser.add_argument("--image", type=Path, help="image to upload (default: a rendered page)")
    parser.add_argument("--key", default=DEFAULT_KEY, help="its key in the input bucket")
    parser.add_argument("--function", default="OcrFunction", help="logical id in template.yaml")
    parser.add_argument(
        "--upload",
        action="append",
        type=UploadSpec.parse,
        default=[],
        metavar="JSON",
        help='an object and its event: {"key": ..., "image": ..., "metadata": {...}} '
        "(repeatable, invoked in order in one process; replaces --image/--key)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        type=parse_parameter,
        default=[],
        metavar="NAME=VALUE",
        help="template parameter for the function's configuration, e.g. OcrEngine=tesseract",
    )
    parser.add_argument(
        "--probe-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="after the invocations, try to import MODULE in the sandbox (repeatable)",
    )
    parser.add_argument("--python", type=Path, help="host interpreter of the runtime's version")
    parser.add_argument(
        "--staging-dir",
        type=Path,
        default=DEFAULT_STAGING_DIR,
        help="empty host directory the sandbox is mounted over, privately (default: /srv)",
    )
    parser.add_argument(
        "--process-timeout",
        type=float,
        default=600.0,
        help="seconds before the Lambda process is killed",
    )
    parser.add_argument("--no-strace", action="store_true", help="do not trace write attempts")
    parser.add_argument("--in-namespaces", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for name in ("function_dir", "layer_dir", "runtime_dir", "image", "staging_dir"):
        value = getattr(args, name)
        if value is not None:
            setattr(args, name, value.absolute())
    if not args.in_namespaces:
        return reexec_in_namespaces(args)
    try:
        report, status = run_sandbox(args)
    except (SandboxError, subprocess.CalledProcessError) as error:
        report, status = {"sandbox_error": str(error)}, 2
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
