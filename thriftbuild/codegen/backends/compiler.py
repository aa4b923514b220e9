"""The Apache Thrift compiler backend: runs ``thrift --gen py`` and fixes its output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thriftbuild.codegen.backends.rewrite import (
    allow_exception_dunders,
    normalize_newlines,
    retarget_includes,
)
from thriftbuild.codegen.errors import (
    CompilerNotFoundError,
    GeneratorError,
    IdlError,
    ThriftBuildError,
)
from thriftbuild.codegen.idl.scan import scan_idl
from thriftbuild.codegen.model import (
    GeneratedPackage,
    GenerationRequest,
    IdlSource,
    generated_header,
)

if TYPE_CHECKING:
    pass

__all__ = ["CompilerBackend", "find_compiler"]

# The compiler's own option that would fight our import rewriting.
_REJECTED_OPTIONS = ("package_prefix",)
_COMPILER_TIMEOUT = 300.0
_HOW_TO_GET_ONE = (
    "install it (Debian/Ubuntu: apt-get install thrift-compiler; macOS: brew install thrift), "
    "point the THRIFT environment variable or the `compiler` setting at it, "
    'or use backend = "python", which needs no compiler'
)
_DIAGNOSTIC = re.compile(r"^\[(ERROR|FAILURE):(.*):(\d+)\]\s*(.*)$")
_LAST_TOKEN = re.compile(r"\(last token was '(.*)'\)")
_QUOTED = re.compile(r'"([^"]+)"')


def find_compiler(compiler: str | None = None) -> str | None:
    """Path of the compiler: ``compiler``, else ``$THRIFT``, else ``thrift`` on PATH."""
    wanted = compiler or os.environ.get("THRIFT") or "thrift"
    return shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)


@dataclass(frozen=True)
class CompilerBackend:
    """Generates code with the Apache Thrift compiler found at ``executable``."""

    executable: str
    version: str
    name: str = "compiler"

    @classmethod
    def locate(cls, compiler: str | None = None) -> CompilerBackend:
        """Find and probe the compiler.

        Raises:
            CompilerNotFoundError: none found, or it does not run.
        """
        wanted = compiler or os.environ.get("THRIFT") or "thrift"
        executable = find_compiler(compiler)
        if executable is None:
            raise CompilerNotFoundError(
                f"the Apache Thrift compiler {wanted!r} was not found; {_HOW_TO_GET_ONE}"
            )
        try:
            probe = subprocess.run(
                [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompilerNotFoundError(
                f"the Apache Thrift compiler {executable!r} does not run ({exc}); {_HOW_TO_GET_ONE}"
            ) from exc
        match = re.search(r"version\s+(\S+)", probe.stdout + probe.stderr)
        if probe.returncode != 0 or match is None:
            raise CompilerNotFoundError(
                f"{executable!r} did not answer --version like the Apache Thrift compiler; "
                + _HOW_TO_GET_ONE
            )
        return cls(executable, match.group(1))

    def identity(self) -> str:
        return f"thrift {self.version}"

    def command(self, request: GenerationRequest, out_dir: Path) -> list[str]:
        """The compiler command line for ``request``."""
        options = request.options
        for option in options.gen_options:
            if option.split("=", 1)[0] in _REJECTED_OPTIONS:
                raise GeneratorError(
                    f"gen option {option!r} is not supported: thriftbuild places packages itself"
                )
        generator = "py:" + ",".join(options.gen_options) if options.gen_options else "py"
        command = [self.executable]
        if options.strict:
            command.append("-strict")
        command += ["-gen", generator, "-out", str(out_dir)]
        for directory in request.include_dirs:
            command += ["-I", str(directory)]
        command.append(str(request.source.path))
        return command

    def generate(self, request: GenerationRequest) -> GeneratedPackage:
        source = request.source
        with tempfile.TemporaryDirectory(prefix="thriftbuild-") as tmp:
            out_dir = Path(tmp)
            try:
                result = subprocess.run(
                    self.command(request, out_dir),
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=_COMPILER_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise GeneratorError(
                    f"{source.message_path}: the compiler ran longer than {_COMPILER_TIMEOUT:.0f}s"
                ) from exc
            except OSError as exc:
                raise CompilerNotFoundError(
                    f"cannot run {self.executable!r} ({exc}); {_HOW_TO_GET_ONE}"
                ) from exc
            if result.returncode != 0:
                raise self._error(request, result.stdout + "\n" + result.stderr, result.returncode)
            package_dir = out_dir.joinpath(*(source.namespace_py or source.stem).split("."))
            raw = {
                path.name: path.read_text(encoding="utf-8")
                for path in sorted(package_dir.glob("*.py"))
            }
        if "ttypes.py" not in raw:
            raise GeneratorError(
                f"{source.message_path}: the compiler wrote no ttypes.py into {package_dir.name}"
            )
        header = generated_header(source, self.identity(), request.options.describe())
        references = _include_references(request)
        files = {}
        for name, text in raw.items():
            text = retarget_includes(normalize_newlines(text), references)
            files[name] = header + allow_exception_dunders(text)
        # Imported here: a no-op build (nothing stale) never needs the Python front end.
        from thriftbuild.codegen.backends.python import PythonBackend

        files.update(PythonBackend().stubs(request, header))
        return GeneratedPackage(source, files)

    def _error(self, request: GenerationRequest, output: str, returncode: int) -> IdlError:
        # The same fault reads the same under both backends: when our front end rejects
        # the file too, its message (with an exact line and column) is the one reported.
        ours = _front_end_error(request)
        if ours is not None:
            return ours
        source = request.source
        by_path = {str(item.path): item for item in request.sources.values()}
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        for index, line in enumerate(lines):
            match = _DIAGNOSTIC.match(line)
            if match is None:
                continue
            _kind, file_name, line_text, rest = match.groups()
            details = [rest] if rest else []
            for follow in lines[index + 1 :]:
                if follow.startswith("["):
                    break
                details.append(follow)
            culprit = by_path.get(file_name) or by_path.get(str(Path(file_name).resolve()))
            display = culprit.message_path if culprit else file_name
            reason, token = _reason(details)
            line_number = int(line_text)
            column = _column(culprit, line_number, token) if culprit and token else 0
            return IdlError(display, line_number, column, reason)
        # Errors such as 'Type "x" not defined' come without a position: find the name.
        messages = [line for line in lines if not line.startswith("[WARNING")]
        reason = messages[0] if messages else f"the compiler failed with exit status {returncode}"
        quoted = _QUOTED.search(reason)
        if quoted:
            position = _find_word(source, quoted.group(1))
            if position:
                return IdlError(source.message_path, position[0], position[1], reason)
        return IdlError(source.message_path, 0, 0, reason)


def _front_end_error(request: GenerationRequest) -> IdlError | None:
    """What our front end (the python backend's parser and checks) says is wrong, if anything."""
    from thriftbuild.codegen.backends.python import PythonBackend

    try:
        PythonBackend().stubs(request, "")
    except IdlError as error:
        return error
    except ThriftBuildError:  # not an IDL fault (an include cycle, ...): the compiler's word
        return None
    return None


def _reason(details: list[str]) -> tuple[str, str | None]:
    token = None
    message_parts = []
    for part in details:
        found = _LAST_TOKEN.search(part)
        if found:
            token = found.group(1)
            part = _LAST_TOKEN.sub("", part).strip()
        if part:
            message_parts.append(part)
    message = "; ".join(message_parts) or "syntax error"
    if token:
        message += f" (at '{token}')"
    return message, token


def _column(source: IdlSource, line_number: int, token: str) -> int:
    try:
        lines = source.read().splitlines()
    except IdlError:
        return 0
    if 0 < line_number <= len(lines):
        found = lines[line_number - 1].find(token)
        return found + 1 if found >= 0 else 0
    return 0


def _find_word(source: IdlSource, word: str) -> tuple[int, int] | None:
    """First line and column where ``word`` appears as a whole token, skipping comments."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(word)}(?![\w])")
    in_block = False
    for number, line in enumerate(source.read().splitlines(), 1):
        code = line
        if in_block:
            end = code.find("*/")
            if end < 0:
                continue
            code = " " * (end + 2) + code[end + 2 :]
            in_block = False
        code = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group()), code)
        start = code.find("/*")
        if start >= 0:
            code, in_block = code[:start], True
        code = re.split(r"//|#", code, maxsplit=1)[0]
        match = pattern.search(code)
        if match:
            return number, match.start() + 1
    return None


def _include_references(request: GenerationRequest) -> dict[str, tuple[str, list[str]]]:
    """How the compiler names each module of the closure, and where it really lives.

    The file's own services are included: a service extending another of the same
    file is imported absolutely (``import <namespace>.<Base>``), never relatively.
    When two files share a name, the file itself and its direct includes win: the
    compiler's output only refers to those.
    """
    source = request.source
    direct = [request.sources[include.path] for include in source.includes]
    ordered = [source, *direct, *request.sources.values()]
    references: dict[str, tuple[str, list[str]]] = {}
    for item in ordered:
        name = item.namespace_py or item.stem
        if name in references:
            continue
        services = list(scan_idl(item.read()).services)
        members = services if item is source else ["ttypes", "constants", *services]
        references[name] = (item.module, members)
    return references
