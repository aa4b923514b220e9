"""Python source for one service module: ``Iface``, ``Client``, ``Processor`` and the
``<method>_args``/``<method>_result`` structs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thriftbuild.codegen.backends.python.codec import Codec
from thriftbuild.codegen.backends.python.emit_struct import instance_name, struct_class, struct_spec
from thriftbuild.codegen.idl.resolved import RField, RFunction, RService, RStruct

__all__ = ["helper_structs", "service_body"]


def _params(fn: RFunction) -> tuple[str, str]:
    """(instance name, parameter list text) of a client or Iface method."""
    names = [a.name for a in fn.args]
    me = instance_name(names)
    return me, "".join(f", {n}" for n in names)


def _call(fields: list[RField], obj: str, method: str, arg: str) -> str:
    """``obj.method(arg)``, through the class when a field named read/write hides it."""
    if any(f.name in ("read", "write") for f in fields):
        return f"type({obj}).{method}({obj}, {arg})"
    return f"{obj}.{method}({arg})"


def _args_class(fn: RFunction) -> str:
    # An argument may be named like the args class (NameConflictTest's Foo_args), which
    # hides the class inside send_<m>; the compiler's output breaks there.
    name = f"{fn.name}_args"
    if any(a.name == name for a in fn.args):
        return f"globals()[{name!r}]"
    return name


def _iface(service: RService, base: str | None) -> list[str]:
    out = [f"class Iface({base + '.Iface' if base else 'object'}):"]
    for fn in service.functions:
        me, params = _params(fn)
        out += [f"    def {fn.name}({me}{params}):", "        pass", ""]
    if not service.functions:
        out += ["    pass", ""]
    return [*out, ""]


def _client(service: RService, base: str | None) -> list[str]:
    if base:
        out = [
            f"class Client({base}.Client, Iface):",
            "    def __init__(self, iprot, oprot=None):",
            f"        {base}.Client.__init__(self, iprot, oprot)",
            "",
        ]
    else:
        out = [
            "class Client(Iface):",
            "    def __init__(self, iprot, oprot=None):",
            "        self._iprot = self._oprot = iprot",
            "        if oprot is not None:",
            "            self._oprot = oprot",
            "        self._seqid = 0",
            "",
        ]
    for fn in service.functions:
        me, params = _params(fn)
        call = ", ".join(a.name for a in fn.args)
        out.append(f"    def {fn.name}({me}{params}):")
        out.append(f"        {me}.send_{fn.name}({call})")
        if not fn.oneway:
            ret = "return " if fn.returns is not None else ""
            out.append(f"        {ret}{me}.recv_{fn.name}()")
        mtype = "ONEWAY" if fn.oneway else "CALL"
        out += [
            "",
            f"    def send_{fn.name}({me}{params}):",
            f"        {me}._oprot.writeMessageBegin({fn.name!r}, TMessageType.{mtype}, "
            f"{me}._seqid)",
            f"        _args = {_args_class(fn)}()",
        ]
        out += [f"        _args.{a.name} = {a.name}" for a in fn.args]
        out += [
            f"        {_call(fn.args, '_args', 'write', f'{me}._oprot')}",
            f"        {me}._oprot.writeMessageEnd()",
            f"        {me}._oprot.trans.flush()",
            "",
        ]
        if fn.oneway:
            continue
        out += [
            f"    def recv_{fn.name}(self):",
            "        iprot = self._iprot",
            "        (fname, mtype, rseqid) = iprot.readMessageBegin()",
            "        if mtype == TMessageType.EXCEPTION:",
            "            x = TApplicationException()",
            "            x.read(iprot)",
            "            iprot.readMessageEnd()",
            "            raise x",
            f"        result = {fn.name}_result()",
            f"        {_call(fn.throws, 'result', 'read', 'iprot')}",
            "        iprot.readMessageEnd()",
        ]
        if fn.returns is not None:
            out += ["        if result.success is not None:", "            return result.success"]
        for t in fn.throws:
            out += [
                f"        if result.{t.name} is not None:",
                f"            raise result.{t.name}",
            ]
        if fn.returns is not None:
            out.append(
                "        raise TApplicationException(TApplicationException.MISSING_RESULT, "
                f'"{fn.name} failed: unknown result")'
            )
        else:
            out.append("        return")
        out.append("")
    return [*out, ""]


def _processor(service: RService, base: str | None, codec: Codec) -> list[str]:
    if base:
        out = [
            f"class Processor({base}.Processor, Iface, TProcessor):",
            "    def __init__(self, handler):",
            f"        {base}.Processor.__init__(self, handler)",
        ]
    else:
        out = [
            "class Processor(Iface, TProcessor):",
            "    def __init__(self, handler):",
            "        self._handler = handler",
            "        self._processMap = {}",
        ]
    out += [
        f'        self._processMap["{fn.name}"] = Processor.process_{fn.name}'
        for fn in service.functions
    ]
    out += [
        "        self._on_message_begin = None",
        "",
        "    def on_message_begin(self, func):",
        "        self._on_message_begin = func",
        "",
        "    def process(self, iprot, oprot):",
        "        (name, type, seqid) = iprot.readMessageBegin()",
        "        if self._on_message_begin:",
        "            self._on_message_begin(name, type, seqid)",
        "        if name not in self._processMap:",
        "            iprot.skip(TType.STRUCT)",
        "            iprot.readMessageEnd()",
        "            x = TApplicationException(TApplicationException.UNKNOWN_METHOD, "
        "'Unknown function %s' % (name))",
        "            oprot.writeMessageBegin(name, TMessageType.EXCEPTION, seqid)",
        "            x.write(oprot)",
        "            oprot.writeMessageEnd()",
        "            oprot.trans.flush()",
        "            return",
        "        else:",
        "            self._processMap[name](self, seqid, iprot, oprot)",
        "        return True",
        "",
    ]
    for fn in service.functions:
        call = ", ".join(f"args.{a.name}" for a in fn.args)
        out += [
            f"    def process_{fn.name}(self, seqid, iprot, oprot):",
            f"        args = {fn.name}_args()",
            f"        {_call(fn.args, 'args', 'read', 'iprot')}",
            "        iprot.readMessageEnd()",
        ]
        if fn.oneway:
            out += [
                "        try:",
                f"            self._handler.{fn.name}({call})",
                "        except TTransport.TTransportException:",
                "            raise",
                "        except Exception:",
                "            logging.exception('Exception in oneway handler')",
                "",
            ]
            continue
        assign = "result.success = " if fn.returns is not None else ""
        out += [
            f"        result = {fn.name}_result()",
            "        try:",
            f"            {assign}self._handler.{fn.name}({call})",
            "            msg_type = TMessageType.REPLY",
            "        except TTransport.TTransportException:",
            "            raise",
        ]
        for t in fn.throws:
            out += [
                f"        except {codec.struct_name(t.type)} as _ex_{t.name}:",
                "            msg_type = TMessageType.REPLY",
                f"            result.{t.name} = _ex_{t.name}",
            ]
        out += [
            "        except TApplicationException as ex:",
            "            logging.exception('TApplication exception in handler')",
            "            msg_type = TMessageType.EXCEPTION",
            "            result = ex",
            "        except Exception:",
            "            logging.exception('Unexpected exception in handler')",
            "            msg_type = TMessageType.EXCEPTION",
            "            result = TApplicationException(TApplicationException.INTERNAL_ERROR, "
            "'Internal error')",
            f'        oprot.writeMessageBegin("{fn.name}", msg_type, seqid)',
            f"        {_call(fn.throws, 'result', 'write', 'oprot')}",
            "        oprot.writeMessageEnd()",
            "        oprot.trans.flush()",
            "",
        ]
    return [*out, ""]


def helper_structs(service: RService) -> list[RStruct]:
    """The ``<method>_args`` and ``<method>_result`` structs of a service."""
    structs: list[RStruct] = []
    for fn in service.functions:
        structs.append(RStruct("struct", f"{fn.name}_args", list(fn.args)))
        if fn.oneway:
            continue
        fields: list[RField] = []
        if fn.returns is not None:
            fields.append(RField(0, "success", fn.returns, "optional"))
        fields += [RField(t.id, t.name, t.type, "optional") for t in fn.throws]
        structs.append(RStruct("struct", f"{fn.name}_result", fields))
    return structs


def service_body(
    service: RService, qualify_service: Callable[[Path, str], str], codec: Codec, slots: bool
) -> list[str]:
    """Everything after the imports of the module for ``service``."""
    base = None if service.base is None else qualify_service(*service.base)
    out = [*_iface(service, base), *_client(service, base), *_processor(service, base, codec)]
    out += ["# HELPER FUNCTIONS AND STRUCTURES", ""]
    for struct in helper_structs(service):
        out += ["", *struct_class(codec, struct, slots), *struct_spec(codec, struct), ""]
    return out
