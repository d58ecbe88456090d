"""A real Kubernetes node for the end-to-end suite: Debian's containerd (CRI plugin on) and a kubelet built by
``.ci/install-kubelet.sh``, standalone (no API server), running static pods whose images only the image credential
provider (the program under test) can pull.

One :class:`Node` is one containerd and one kubelet in a private work directory, started for one case and
stopped at its end, so no case sees another's kubelet credential cache, images or pods:

* containerd: its own socket, root, state, runc root, ``opt`` and CNI directories; the CRI plugin with
  ``restrict_oom_score_adj`` (root here lacks CAP_SYS_RESOURCE: runc fails with ``can't get final child's PID
  from pipe: EOF`` without it), a sandbox (pause) image of ours imported with ``ctr images import`` (containerd
  pulls the sandbox image itself, without credentials), and each registry configured through
  ``registry.config_path`` (``hosts.toml``: plain HTTP, or HTTPS with the registry's private CA).
* the kubelet: ``--pod-manifest-path`` with the case's static pods (``imagePullPolicy: Always``, host network:
  no CNI), ``--container-runtime-endpoint`` to that containerd, ``--image-credential-provider-config`` written
  by the program under test's own ``configure kubelet``, ``--image-credential-provider-bin-dir`` holding the
  program under test under the provider's name, and the ``IMGPKG_REGISTRY_*`` variables in its environment
  only; ``failCgroupV1: false`` (CI's machines are cgroup v1), ``failSwapOn: false``, no server, no iptables
  chains, eviction and image GC thresholds a nearly full disk does not reach. It runs in a private mount
  namespace in which the six kernel tunables it would otherwise rewrite (``setupKernelTunables``:
  ``kernel.panic``, ``vm.overcommit_memory``, ...) already read as it wants them, so the machine's values never
  change; the bind mount it makes of its root directory (``MakeRShared``) stays in that namespace too. Its
  cgroups live under a cgroup root of this node's own, removed at the end.

What the kubelet writes outside its directories (fixed paths in its code): ``/var/lib/kubelet/device-plugins/``
(``kubelet.sock``, ``kubelet_internal_checkpoint``) and the ``/var/log/containers/`` links to its pods' logs;
containerd's shims put their sockets in ``/run/containerd/s/``. Nodes take a machine-wide lock for their
lifetime (so two test runs never share those paths) and remove exactly what they created there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import PROGRAM_NAME, stop_pid

from .goclients import gobin, missing_tool
from .support import Registry, Result, run, write_oci_layout

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run .ci/install-kubelet.sh (Debian's containerd, runc, busybox-static and a kubelet built with Go)"
KUBELET_MODULE = REPO_ROOT / ".ci" / "kubelet" / "go.mod"
BUSYBOX = Path("/bin/busybox")  # busybox-static: the one binary in the test images
NAMESPACE = "k8s.io"  # containerd's namespace for the CRI plugin
PAUSE_IMAGE = "imgpkg-e2e.invalid/pause:1"  # imported, never pulled: the name needs no registry
POD_NAMESPACE = "default"
NODE_NAME = "imgpkg-e2e-node"
DEADLINE = 120  # seconds: every wait below is bounded by this; the assertions are outcomes, never times

# Fixed paths in the kubelet's and containerd's code, outside every directory a flag or setting can move.
DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")
CONTAINER_LOGS = Path("/var/log/containers")
SHIM_SOCKETS = Path("/run/containerd/s")

# setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go): the values the kubelet writes unless they are
# already set, and fails on when protectKernelDefaults is set.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}


# --------------------------------------------------------------------------------------------------------------
# what a node needs


@dataclass(frozen=True)
class NodeTools:
    kubelet: Path
    containerd: str
    ctr: str
    version: str  # what ``kubelet --version`` says


def pinned_kubelet_version() -> str:
    """The k8s.io/kubernetes release .ci/kubelet/go.mod pins (``v1.37.2``)."""
    match = re.search(r"^\s*k8s\.io/kubernetes\s+(v\S+)", KUBELET_MODULE.read_text(), re.M)
    assert match, f"{KUBELET_MODULE}: no k8s.io/kubernetes requirement"
    return match.group(1)


def node_tools() -> NodeTools:
    """The kubelet .ci/install-kubelet.sh built, containerd and ctr; skips (fails under CI) when one is missing."""
    if os.geteuid() != 0:
        missing_tool("e2e: a kubelet and containerd need root")
    missing = [tool for tool in ("containerd", "ctr", "runc", "unshare", "mount", "umount") if not shutil.which(tool)]
    if not BUSYBOX.is_file():
        missing.append(str(BUSYBOX))
    kubelet = gobin() / "kubelet"
    if not os.access(kubelet, os.X_OK):
        missing.append(str(kubelet))
    if missing:
        missing_tool(f"e2e: missing {', '.join(missing)}; {INSTALL_HINT}")
    version = run([str(kubelet), "--version"], timeout=30).stdout.strip()
    pinned = pinned_kubelet_version()
    if version != f"Kubernetes {pinned}":
        missing_tool(f"e2e: {kubelet} says {version!r}, .ci/kubelet/go.mod pins {pinned}; {INSTALL_HINT}")
    return NodeTools(kubelet, shutil.which("containerd") or "", shutil.which("ctr") or "", version)


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """Held while a node runs: the paths above are the machine's, one kubelet at a time may use them."""
    with open(gobin() / ".kubelet-node.lock", "a") as lock:  # beside the kubelet: a directory of ours
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------------------------
# images


def busybox_layout(layout: Path, name: str | None = None) -> Path:
    """An OCI layout of a one-layer image holding Debian's static busybox as ``/bin/busybox``.

    ``name`` (``io.containerd.image.name``) is the name ``ctr images import`` gives it (the pause image)."""
    annotations = {"io.containerd.image.name": name} if name else None
    cmd = ["/bin/busybox", "sleep", "2147483647"]
    files = {"bin/busybox": BUSYBOX.read_bytes()}
    write_oci_layout(layout, "v1", files, executables={"bin/busybox"}, cmd=cmd, annotations=annotations)
    return layout


def oci_archive(layout: Path, archive: Path) -> Path:
    """The layout as the tar ``ctr images import`` reads."""
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    return archive


# --------------------------------------------------------------------------------------------------------------
# processes and the machine's state


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode("utf-8", "replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (this mount namespace), deepest first."""
    prefix = str(root).rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == str(root) or point.startswith(prefix):
                points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def _cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy (v1 controllers, the named systemd one, the unified one)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                found.append(Path(fields[4]))
    return found


def _remove_cgroup_tree(path: Path) -> list[str]:
    """rmdir ``path`` and everything below it, deepest first; returns what could not be removed."""
    if not path.is_dir():
        return []
    left = []
    dirs = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for d in [*dirs, path]:
        try:
            d.rmdir()
        except FileNotFoundError:
            pass
        except OSError as err:
            left.append(f"{d}: {err}")
    return left


def _wait(what: str, check, deadline: float = DEADLINE, interval: float = 0.2):
    """Poll ``check()`` until it returns something true; AssertionError naming ``what`` after ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------------------
# pods


@dataclass(frozen=True)
class Pod:
    """A static pod: one container from ``image`` that prints ``marker`` and then sleeps."""

    name: str
    image: str
    marker: str = field(default_factory=lambda: "imgpkg-e2e-marker-" + secrets.token_hex(6))

    @property
    def full_name(self) -> str:
        return f"{self.name}-{NODE_NAME}"  # the kubelet suffixes static pods with the node's name

    def manifest(self) -> dict:
        script = f"echo {self.marker}; exec /bin/busybox sleep 2147483647"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": POD_NAMESPACE},
            "spec": {
                "hostNetwork": True,
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "app",
                        "image": self.image,
                        "imagePullPolicy": "Always",
                        "command": ["/bin/busybox", "sh", "-c", script],
                    }
                ],
            },
        }


# --------------------------------------------------------------------------------------------------------------
# the node


class Node:
    """containerd + kubelet under ``root``. :meth:`start` runs them, :meth:`stop` leaves nothing behind."""

    def __init__(self, root: Path, tools: NodeTools, helper: Path) -> None:
        self.root = root
        self.tools = tools
        self.helper = helper
        self.id = secrets.token_hex(4)
        self.cd = root / "containerd"
        self.socket = self.cd / "containerd.sock"
        self.certs_d = self.cd / "certs.d"
        self.kubelet_dir = root / "kubelet"
        self.manifests = root / "manifests"
        self.pod_logs = root / "pod-logs"
        self.plugins = root / "credential-providers"
        self.provider_config = root / "credential-providers.json"
        self.home = root / "home"
        self.cgroup_root = f"/imgpkg-e2e-{self.id}"
        self.containerd_log = root / "containerd.log"
        self.kubelet_log = root / "kubelet.log"
        self.containerd_pid: int | None = None
        self.kubelet_pid: int | None = None
        self._kubelet: subprocess.Popen | None = None
        self.pods: list[Pod] = []
        self._created: list[Path] = []  # paths outside ``root`` that did not exist before this node
        self._shim_sockets: list[Path] = []
        self._lock: contextlib.ExitStack | None = None
        self.leftovers: list[str] = []  # what stop() could not clean up (a test asserts it is empty)

    # -- containerd --------------------------------------------------------------------------------------------

    def _containerd_config(self) -> str:
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        return "\n".join(
            [
                "version = 2",
                f'root = "{self.cd / "root"}"',
                f'state = "{self.cd / "state"}"',
                "disabled_plugins = ["
                + ", ".join(f'"io.containerd.snapshotter.v1.{s}"' for s in ("aufs", "btrfs", "devmapper", "zfs"))
                + "]",
                "[grpc]",
                f'  address = "{self.socket}"',
                "[ttrpc]",
                f'  address = "{self.socket}.ttrpc"',
                '[plugins."io.containerd.internal.v1.opt"]',
                f'  path = "{self.cd / "opt"}"',
                f"[{cri}]",
                f'  sandbox_image = "{PAUSE_IMAGE}"',
                "  restrict_oom_score_adj = true",
                "  disable_tcp_service = true",
                '  stream_server_address = "127.0.0.1"',
                '  stream_server_port = "0"',
                f"[{cri}.cni]",
                f'  bin_dir = "{self.cd / "cni-bin"}"',
                f'  conf_dir = "{self.cd / "cni-conf"}"',
                f"[{cri}.containerd]",
                '  snapshotter = "overlayfs"',
                f"[{cri}.containerd.runtimes.runc]",
                '  runtime_type = "io.containerd.runc.v2"',
                f"[{cri}.containerd.runtimes.runc.options]",
                f'  Root = "{self.cd / "runc"}"',
                f"[{cri}.registry]",
                f'  config_path = "{self.certs_d}"',
                "",
            ]
        )

    def ctr(self, *args: str, timeout: float = 60) -> Result:
        return run([self.tools.ctr, "--address", str(self.socket), "--namespace", NAMESPACE, *args], timeout=timeout)

    def trust(self, registry: Registry) -> None:
        """containerd's ``hosts.toml`` for ``registry``: plain HTTP, or HTTPS with the registry's CA."""
        lines = [f'server = "{registry.url}"', "", f'[host."{registry.url}"]', '  capabilities = ["pull", "resolve"]']
        if registry.tls:
            lines.append(f'  ca = "{registry.tls.ca_cert}"')
        path = self.certs_d / registry.host / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")

    def _start_containerd(self) -> None:
        for d in (self.cd / "cni-bin", self.cd / "cni-conf", self.certs_d):
            d.mkdir(parents=True, exist_ok=True)
        config = self.cd / "config.toml"
        config.write_text(self._containerd_config())
        with open(self.containerd_log, "ab") as log:
            proc = subprocess.Popen(
                [self.tools.containerd, "--config", str(config), "--log-level", "info"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.home)}, cwd=self.root,
            )  # fmt: skip
        self.containerd_pid = proc.pid
        _wait("containerd to answer", lambda: proc.poll() is not None or self.ctr("version").returncode == 0, 60)
        if proc.poll() is not None:
            raise RuntimeError(f"containerd exited ({proc.returncode}):\n{self.tail(self.containerd_log)}")
        pause = busybox_layout(self.root / "pause-layout", PAUSE_IMAGE)
        result = self.ctr("images", "import", str(oci_archive(pause, self.root / "pause.tar")))
        assert result.returncode == 0, result.describe()

    # -- the kubelet -------------------------------------------------------------------------------------------

    def install_provider(self) -> Path:
        """The program under test in the kubelet's bin dir under the provider's name, as docs/kubernetes.md says."""
        self.plugins.mkdir(parents=True, exist_ok=True)
        target = self.plugins / PROGRAM_NAME
        shutil.copyfile(self.helper, target)
        target.chmod(0o755)
        return target

    def configure(self, env: Mapping[str, str], *extra: str) -> Result:
        """``configure kubelet --config FILE --bin-dir DIR`` run by the installed provider with ``env``."""
        program = self.install_provider()
        argv = [str(program), "configure", "kubelet", "--config", str(self.provider_config)]
        result = run([*argv, "--bin-dir", str(self.plugins), *extra], env={**self.base_env(), **env}, timeout=60)
        assert result.returncode == 0, result.describe()
        return result

    def base_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.home), "LC_ALL": "C.UTF-8"}

    def _kubelet_config(self) -> dict:
        """What the flags in :meth:`_start_kubelet` do not say."""
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,  # kubelet 1.37 refuses cgroup v1 (CI's machines) without this
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "failSwapOn": False,
            "fileCheckFrequency": "1s",
            "podLogsDir": str(self.pod_logs),
            "volumePluginDir": str(self.root / "volume-plugins"),
            "makeIPTablesUtilChains": False,
            # the defaults ask the API server (webhook), which a standalone kubelet refuses to start with
            "authentication": {"webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "oomScoreAdj": 0,  # root here may not lower a score (no CAP_SYS_RESOURCE)
            # no eviction or image GC on a nearly full disk
            "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
        }

    def _start_kubelet(self, env: Mapping[str, str], provider: bool) -> None:
        self.kubelet_dir.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)
        for pod in self.pods:
            (self.manifests / f"{pod.name}.json").write_text(json.dumps(pod.manifest(), indent=2))
        config = self.root / "kubelet-config.json"
        config.write_text(json.dumps(self._kubelet_config(), indent=2))
        masks = self.root / "sysctl"
        masks.mkdir(exist_ok=True)
        binds = []
        for name, value in KUBELET_SYSCTLS.items():
            mask = masks / name.replace("/", ".")
            mask.write_text(value + "\n")
            binds.append(f"mount --bind {mask} /proc/sys/{name}")
        start = self.root / "start-kubelet.sh"
        start.write_text(
            "#!/bin/sh\n"
            "# made by tests/e2e/kubelet_node.py, run by `unshare --mount`: in this mount namespace only, the kernel\n"
            "# tunables already read as the kubelet wants them, so it leaves the machine's alone.\n"
            "set -e\n" + "\n".join(binds) + f'\nexec {self.tools.kubelet} "$@"\n'
        )
        start.chmod(0o755)
        args = [
            f"--config={config}",
            f"--root-dir={self.kubelet_dir}",
            f"--cert-dir={self.root / 'pki'}",
            f"--pod-manifest-path={self.manifests}",
            f"--container-runtime-endpoint=unix://{self.socket}",
            f"--hostname-override={NODE_NAME}",
            "--enable-server=false",
            "-v=4",
        ]
        if provider:
            args += [
                f"--image-credential-provider-config={self.provider_config}",
                f"--image-credential-provider-bin-dir={self.plugins}",
            ]
        with open(self.kubelet_log, "ab") as log:
            # cwd: the kubelet reads docker config files from its working directory too
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", str(start), *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**self.base_env(), **env}, cwd=self.root,
            )  # fmt: skip
        self.kubelet_pid = proc.pid
        self._kubelet = proc

    def kubelet_alive(self) -> bool:
        return self._kubelet is not None and self._kubelet.poll() is None

    # -- the machine's shared paths ----------------------------------------------------------------------------

    def _note_new(self, *paths: Path) -> None:
        """Remember which of ``paths`` (outside ``root``) do not exist yet: stop() removes those."""
        for path in paths:
            if not os.path.lexists(path):
                self._created.append(path)

    def _check_machine(self) -> None:
        probe = DEVICE_PLUGINS / "kubelet.sock"
        if probe.exists():
            with socket.socket(socket.AF_UNIX) as sock, contextlib.suppress(OSError):
                sock.settimeout(2)
                sock.connect(str(probe))
                raise RuntimeError(f"a kubelet is running on this machine ({probe} answers): not starting another")

    # -- life cycle --------------------------------------------------------------------------------------------

    def start(self, pods: Sequence[Pod], env: Mapping[str, str] | None = None, provider: bool = True) -> Node:
        """Run containerd and a kubelet with ``pods`` as static pods; ``env`` is the kubelet's (and so the
        provider's) extra environment; ``provider=False`` starts the kubelet without the provider flags."""
        self.pods = list(pods)
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(machine_lock())
        self._check_machine()
        self._note_new(
            DEVICE_PLUGINS.parent,
            DEVICE_PLUGINS,
            DEVICE_PLUGINS / "kubelet.sock",
            DEVICE_PLUGINS / "kubelet_internal_checkpoint",
            CONTAINER_LOGS,
            SHIM_SOCKETS.parent,
            SHIM_SOCKETS,
        )
        self.home.mkdir(parents=True, exist_ok=True)
        for hierarchy in _cgroup_hierarchies():  # the kubelet checks that its cgroup root exists
            (hierarchy / self.cgroup_root.lstrip("/")).mkdir(exist_ok=True)
        self._start_containerd()
        self._start_kubelet(env or {}, provider)
        return self

    def stop(self) -> None:
        """Stop the kubelet, every container and shim of this containerd, containerd; unmount, remove the cgroups
        and the machine paths this node created. What cannot be cleaned up is recorded in ``leftovers``."""
        try:
            if self.kubelet_pid is not None:
                stop_pid(self.kubelet_pid)
            if self.containerd_pid is not None:
                self._remove_containers()
                stop_pid(self.containerd_pid)
            self._stop_strays()
            self._unmount()
            for hierarchy in _cgroup_hierarchies():
                self.leftovers += _remove_cgroup_tree(hierarchy / self.cgroup_root.lstrip("/"))
            self._remove_machine_paths()
        finally:
            self.kubelet_pid = self.containerd_pid = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _remove_containers(self) -> None:
        """Every task killed and deleted, every container deleted (the CRI plugin's sandboxes included).

        The CRI plugin deletes the tasks it sees exit too, and a shim exits with its last task: a delete can lose
        that race (``ttrpc: closed``), so what counts is that no task is left."""
        for task in self.tasks():
            self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task)

        def deleted() -> bool:
            for task, status in self.tasks().items():
                if status == "STOPPED":
                    self.ctr("tasks", "delete", task)
            return not self.tasks()

        try:
            _wait("containerd's tasks to be deleted", deleted, 30)
        except AssertionError as err:
            self.leftovers.append(f"{err}: {self.tasks()}")
        for container in self.ctr("containers", "ls", "--quiet").stdout.split():
            # where its shim listened (pkg/shim SocketAddress: sha256 of the containerd address, namespace, id)
            digest = hashlib.sha256(f"{self.socket}/{NAMESPACE}/{container}".encode()).hexdigest()
            self._shim_sockets.append(SHIM_SOCKETS / digest)
            self.ctr("containers", "delete", container)

    def _stop_strays(self) -> None:
        """Shims of this containerd (their argv names its socket) and processes left in this node's cgroups."""
        address = str(self.socket)
        mine = {pid for pid in _pids() if address in _cmdline(pid) and pid != os.getpid()}
        for hierarchy in _cgroup_hierarchies():
            for procs in (hierarchy / self.cgroup_root.lstrip("/")).rglob("cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    mine.update(int(p) for p in procs.read_text().split())
        for pid in sorted(mine):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in mine:
            with contextlib.suppress(AssertionError):
                _wait(f"process {pid} to exit", lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 10, 0.05)
        self.leftovers += [f"process {pid} {_cmdline(pid)}" for pid in mine if os.path.exists(f"/proc/{pid}")]

    def _unmount(self) -> None:
        for point in _mounts_under(self.root):
            result = run(["umount", point], timeout=30)
            if result.returncode != 0:
                result = run(["umount", "--lazy", point], timeout=30)
            if result.returncode != 0:
                self.leftovers.append(f"mount {point}: {result.output.strip()}")

    def _remove_machine_paths(self) -> None:
        if CONTAINER_LOGS.is_dir():  # the links to this node's pod logs, in a directory it may share
            for link in CONTAINER_LOGS.iterdir():
                if link.is_symlink() and os.readlink(link).startswith(str(self.pod_logs) + "/"):
                    link.unlink()
        for sock in self._shim_sockets:  # a shim killed above leaves its socket behind
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
        for path in reversed(self._created):  # children before their parents
            try:
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                elif os.path.lexists(path):
                    path.unlink()
            except OSError as err:
                self.leftovers.append(f"{path}: {err}")
        self._created = []

    # -- what happened -----------------------------------------------------------------------------------------

    @staticmethod
    def tail(path: Path, lines: int = 60) -> str:
        if not path.exists():
            return f"({path}: no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def containers(self) -> dict[str, dict]:
        """containerd's containers of this node by id: ``{"image": ..., "labels": {...}}``."""
        out = {}
        for cid in self.ctr("containers", "ls", "--quiet").stdout.split():
            info = self.ctr("containers", "info", cid)
            if info.returncode == 0:
                data = json.loads(info.stdout)
                out[cid] = {"image": data.get("Image", ""), "labels": data.get("Labels") or {}}
        return out

    def tasks(self) -> dict[str, str]:
        """``ctr tasks ls``: task id -> status (``RUNNING``, ``STOPPED``...)."""
        rows = self.ctr("tasks", "ls").stdout.splitlines()[1:]
        return {row.split()[0]: row.split()[2] for row in rows if len(row.split()) >= 3}

    def app_container(self, pod: Pod) -> str | None:
        """The id of ``pod``'s ``app`` container, once the CRI plugin created it."""
        for cid, info in self.containers().items():
            labels = info["labels"]
            if (
                labels.get("io.kubernetes.pod.name") == pod.full_name
                and labels.get("io.kubernetes.container.name") == "app"
            ):
                return cid
        return None

    def cri_log(self, pod: Pod) -> str:
        """The CRI log of ``pod``'s app container (``<podLogsDir>/<ns>_<pod>_<uid>/app/0.log``)."""
        found = sorted(self.pod_logs.glob(f"{POD_NAMESPACE}_{pod.full_name}_*/app/*.log"))
        return "\n".join(p.read_text(errors="replace") for p in found)

    def wait_running(self, pod: Pod) -> str:
        """Wait until ``pod``'s container runs and has printed its marker; returns the container id."""

        def running() -> str | None:
            if not self.kubelet_alive():
                raise AssertionError(f"the kubelet exited:\n{self.tail(self.kubelet_log)}")
            cid = self.app_container(pod)
            if cid and self.tasks().get(cid) == "RUNNING" and pod.marker in self.cri_log(pod):
                return cid
            return None

        return _wait(f"{pod.full_name} to run {pod.image}", running)

    def log_lines(self, *parts: str) -> list[str]:
        """The kubelet's log lines holding every one of ``parts``."""
        text = self.kubelet_log.read_text(errors="replace") if self.kubelet_log.exists() else ""
        return [line for line in text.splitlines() if all(part in line for part in parts)]

    def pull_failures(self, pod: Pod) -> list[str]:
        """The kubelet's log lines reporting a failed pull of ``pod``'s image (``ErrImagePull``)."""
        return self.log_lines(pod.image, "ErrImagePull")

    def wait_pull_failure(self, pod: Pod) -> list[str]:
        def failed() -> list[str]:
            if not self.kubelet_alive():
                raise AssertionError(f"the kubelet exited:\n{self.tail(self.kubelet_log)}")
            return self.pull_failures(pod)

        return _wait(f"the kubelet to report a failed pull of {pod.image}", failed)

    def logs(self) -> dict[str, str]:
        """Every log this node wrote: the kubelet's, containerd's and each pod's CRI log."""
        out = {"kubelet": self.kubelet_log, "containerd": self.containerd_log}
        out.update({f"CRI {p.relative_to(self.pod_logs)}": p for p in self.pod_logs.rglob("*.log")})
        return {name: path.read_text(errors="replace") for name, path in out.items() if path.is_file()}
