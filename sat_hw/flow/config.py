"""Flow configuration: built-in defaults (the shipped flow.toml) < --config file < CLI flags.

The schema below is the single list of keys; flow.toml documents each. Loading validates types
and ranges, rejects unknown keys by name, and resolves per-layer bits against the model's layer
names (``[quant.layers.<name>]`` with ``wbits``/``abits``).
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from sat_hw.base.resources import resource_path

_STR, _INT, _FLOAT, _BOOL = "str", "int", "float", "bool"


def _num(x: float) -> str:
    """A bound as a person writes it: exact for integers (2**20 is 1048576, not 1.04858e+06)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _between(lo: float, hi: float, lo_open: bool = False):
    def check(v):
        ok = (lo < v if lo_open else lo <= v) and v <= hi
        if hi == math.inf:
            return ok, f"must be {'above' if lo_open else 'at least'} {_num(lo)}"
        return ok, (f"must be above {_num(lo)} and at most {_num(hi)}" if lo_open else
                    f"must be {_num(lo)}..{_num(hi)}")
    return check


def _choice(*names: str):
    return lambda v: (v in names, f"must be one of {', '.join(names)}")


def _backends(v: str):
    parts = [p.strip() for p in v.split(",") if p.strip()]
    return bool(parts) and all(p in ("rtl", "hls") for p in parts), "must list rtl and/or hls"


def _device(v: str):
    from sat_hw.hw.devices import device_names, get_device

    try:
        get_device(v)
    except ValueError:
        return False, f"must be a known device ({', '.join(device_names())})"
    return True, ""


INF = math.inf
MODELS = ("mbv1", "mbv2", "resnet20")
RESIDUAL_MODELS = ("mbv2", "resnet20")
"""Models with skip connections (docs/residual.md): their graphs are DAGs (forks and adds)."""

SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "model": {
        "name": (_STR, _choice(*MODELS)),
        "width": (_FLOAT, _between(0, 4, lo_open=True)),
        "resolution": (_INT, _between(8, 1024)),
        "in_channels": (_INT, _between(1, 16)),
        "classes": (_INT, _between(2, 100000)),
    },
    "quant": {
        "method": (_STR, _choice("fp", "pact", "cgpact", "sat")),
        "wbits": (_INT, _between(1, 8)),
        "abits": (_INT, _between(1, 8)),
        "first_wbits": (_INT, _between(1, 8)),
        "last_wbits": (_INT, _between(1, 8)),
        "scale_all_convs": (_BOOL, None),
        "fc_scale": (_STR, _choice("fan_in", "fan_out")),
        "calib_percentile": (_FLOAT, _between(0, 100, lo_open=True)),
        "calib_images": (_INT, _between(1, 100000)),
        "layers": ("layers", None),
    },
    "data": {
        "name": (_STR, _choice("fashion-mnist", "cifar10", "imagefolder")),
        "root": (_STR, None),
        "workers": (_INT, _between(0, 64)),
    },
    "train": {
        "epochs": (_INT, _between(1, 10000)),
        "batch_size": (_INT, _between(1, 65536)),
        "lr": (_FLOAT, _between(0, INF, lo_open=True)),
        "momentum": (_FLOAT, _between(0, 1)),
        "weight_decay": (_FLOAT, _between(0, INF)),
        "warmup_epochs": (_INT, _between(0, 10000)),
        "seed": (_INT, _between(0, 2**32 - 1)),
        "max_steps": (_INT, _between(0, 2**62)),
        "label_smoothing": (_FLOAT, _between(0, 1)),
        "eval_images": (_INT, _between(0, 2**31)),
        "crop_pad": (_INT, _between(0, 64)),
        "erase": (_FLOAT, _between(0, 1)),
        "distill": (_STR, None),
        "distill_weight": (_FLOAT, _between(0, 1)),
        "distill_temperature": (_FLOAT, _between(0, INF, lo_open=True)),
        "ema": (_FLOAT, _between(0, 0.999999)),
        "guard": (_BOOL, None),
    },
    "build": {
        "out": (_STR, None),
        "seed": (_INT, _between(0, 2**32 - 1)),
        "images": (_INT, _between(1, 100000)),
        "backend": (_STR, _backends),
        "zoo": (_BOOL, None),
    },
    "hw": {
        "device": (_STR, _device),
        "fclk_mhz": (_FLOAT, _between(0, INF, lo_open=True)),
        "fps": (_FLOAT, _between(0, INF)),
        "lanes": (_INT, _between(1, 2**31)),
    },
    "fold": {},  # [fold.<layer>] tables, keys FOLD_KEYS
}
LAYER_KEYS = {"wbits": (_INT, _between(1, 8)), "abits": (_INT, _between(1, 8))}
FOLD_KEYS = {"pe": (_INT, _between(1, 2**20)), "simd": (_INT, _between(1, 2**20)),
             "mult": (_STR, _choice("lut", "dsp")),
             "mem": (_STR, _choice("auto", "lut", "bram", "uram", "external"))}


def _check_value(where: str, kind: str, check, v):
    if kind == _FLOAT and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    types = {_STR: str, _INT: int, _FLOAT: float, _BOOL: bool}
    if not isinstance(v, types[kind]) or (kind == _INT and isinstance(v, bool)):
        raise ValueError(f"{where}: expected {kind}, got {v!r}")
    if check is not None:
        ok, msg = check(v)
        if not ok:
            raise ValueError(f"{where} {msg}, got {v!r}")
    return v


def _merge(base: dict, new: dict, source: str) -> None:
    """Validate ``new`` (a parsed TOML document) and merge it into ``base`` in place."""
    for section, table in new.items():
        if section not in SCHEMA:
            raise ValueError(f"{source}: unknown section [{section}]")
        if not isinstance(table, dict):
            msg = f"{source}: [{section}] must be a table, got {table!r}"
            raise ValueError(msg)  # noqa: TRY004 - bad input (exit 2), like every other
        if section == "fold":
            _merge_layers(base[section], table, source, "fold", FOLD_KEYS)
            continue
        for key, v in table.items():
            if key not in SCHEMA[section]:
                raise ValueError(f"{source}: unknown key {section}.{key}")
            kind, check = SCHEMA[section][key]
            if kind == "layers":
                _merge_layers(base[section].setdefault("layers", {}), v, source, "quant.layers",
                              LAYER_KEYS)
            else:
                base[section][key] = _check_value(f"{source}: {section}.{key}", kind, check, v)


def _merge_layers(base: dict, layers: Any, source: str, prefix: str, keys: dict) -> None:
    """Per-layer tables ``[<prefix>.<layer>]`` with the keys of ``keys``."""
    if not isinstance(layers, dict):
        raise ValueError(f"{source}: {prefix} must be a table, got {layers!r}")  # noqa: TRY004
    for name, table in layers.items():
        if not isinstance(table, dict):
            msg = f"{source}: {prefix}.{name} must be a table, got {table!r}"
            raise ValueError(msg)  # noqa: TRY004 - bad input (exit 2)
        for key, v in table.items():
            if key not in keys:
                raise ValueError(f"{source}: unknown key {prefix}.{name}.{key}")
            kind, check = keys[key]
            where = f"{source}: {prefix}.{name}.{key}"
            base.setdefault(name, {})[key] = _check_value(where, kind, check, v)


def _read_toml(path: Path) -> dict:
    if path.is_dir():
        raise ValueError(f"config file {str(path)!r} is a folder: give a flow.toml file")
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {str(path)!r} is not UTF-8 text (byte "
                         f"0x{e.object[e.start]:02x} at offset {e.start}): TOML is UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config file {str(path)!r}: {e}") from None


def defaults() -> dict:
    """The built-in defaults: the shipped flow.toml, parsed and validated."""
    base = {s: {} for s in SCHEMA}
    _merge(base, _read_toml(resource_path("flow.toml")), "flow.toml (built-in)")
    missing = [f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys if k not in base[s]]
    if missing:
        raise ValueError(f"built-in flow.toml lacks {missing[0]}")
    return base


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Defaults, then the file at ``path`` (if any), then ``overrides`` ({section: {key: v}}).

    ``None`` values in ``overrides`` mean "flag not given" and are skipped. The per-layer names
    are checked against the model (see :func:`layer_bits`).
    """
    cfg = defaults()
    if path is not None:
        _merge(cfg, _read_toml(Path(path)), str(path))
    given = {s: {k: v for k, v in t.items() if v is not None} for s, t in (overrides or {}).items()}
    for section, table in given.items():  # a flag's error names the flag, not the key
        for key, v in table.items():
            one = {section: {key: v}}
            try:
                _merge(cfg, one, "command line")
            except ValueError as e:
                flag = FLAGS.get((section, key))
                if flag is None:
                    raise
                msg = str(e).split(f"{section}.{key}", 1)[-1].strip(" :")
                raise ValueError(f"{flag} {_flag_value(v)}: {msg.rsplit(', got', 1)[0]}"
                                 f"{FLAG_UNITS.get(flag, '')}") from None
    try:
        layer_bits(cfg)
        check_fold_names(cfg)
    except ValueError as e:  # per-layer tables come only from the user's file
        raise ValueError(f"{path}: {e}" if path is not None else str(e)) from None
    return cfg


FLAGS = {("model", "name"): "--model", ("model", "width"): "--width",
         ("model", "resolution"): "--resolution", ("model", "in_channels"): "--in-channels",
         ("model", "classes"): "--classes", ("quant", "wbits"): "--wbits",
         ("quant", "abits"): "--abits", ("quant", "method"): "--method", ("data", "name"): "--data",
         ("train", "epochs"): "--epochs", ("train", "batch_size"): "--batch-size",
         ("train", "lr"): "--lr", ("train", "seed"): "--seed", ("train", "max_steps"): "--max-steps",
         ("train", "eval_images"): "--eval-images", ("train", "ema"): "--ema",
         ("build", "seed"): "--seed", ("build", "images"): "--images",
         ("build", "backend"): "--backend", ("hw", "device"): "--device",
         ("hw", "fclk_mhz"): "--fclk", ("hw", "fps"): "--fps"}
"""The command-line flag of each setting a flag can give (their errors name the flag)."""
FLAG_UNITS = {"--fclk": " (a clock in MHz, e.g. 333)", "--fps": " (frames per second; 0: the "
              "fastest folding that fits)", "--width": " (a width multiplier, e.g. 0.25)"}


def _flag_value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def file_settings(path: str | Path) -> dict:
    """Only what the file at ``path`` sets, validated: ``{section: {key: value}}``."""
    doc = {s: {} for s in SCHEMA}
    _merge(doc, _read_toml(Path(path)), str(path))
    return {s: t for s, t in doc.items() if t}


def check_fold_names(cfg: dict) -> None:
    """Every ``[fold.<layer>]`` names a layer of the model."""
    from sat_hw.nn.models import model_specs

    names = [s.name for s in model_specs(cfg["model"]["name"], **model_shape(cfg))]
    for name in cfg.get("fold", {}):
        if name not in names:
            raise ValueError(f"fold.{name}: model {cfg['model']['name']} has no layer {name!r} "
                             f"(layers: {', '.join(names)})")


def model_shape(cfg: dict) -> dict:
    m = cfg["model"]
    return {k: m[k] for k in ("width", "resolution", "in_channels", "classes")}


def layer_bits(cfg: dict) -> dict[str, dict[str, int]]:
    """Resolved ``{layer: {"wbits", "abits"}}``: defaults, then ``[quant.layers.<name>]``."""
    from sat_hw.nn.models import default_bits, model_specs  # models import torch; keep config light

    q = cfg["quant"]
    specs = model_specs(cfg["model"]["name"], **model_shape(cfg))
    bits = default_bits(specs, q["wbits"], q["abits"], q["first_wbits"], q["last_wbits"])
    for name, table in q.get("layers", {}).items():
        if name not in bits:
            raise ValueError(f"quant.layers.{name}: model {cfg['model']['name']} has no layer "
                             f"{name!r} (layers: {', '.join(bits)})")
        if (name == "pool" or name.endswith("_add")) and "wbits" in table:
            raise ValueError(f"quant.layers.{name}.wbits: layer {name} has no weights")
        if name == "conv0" and table.get("abits", 8) != 8:
            raise ValueError(f"quant.layers.conv0.abits: conv0 reads the 8-bit input codes, "
                             f"got {table['abits']}")
        bits[name].update(table)
    return bits


def mixed_layers(cfg: dict) -> dict[str, dict[str, int]]:
    """The layers whose bits differ from the uniform ``quant.wbits``/``abits`` with 8-bit first
    and last weights: ``{layer: bits}`` in layer order (empty for a uniform configuration)."""
    from sat_hw.nn.models import default_bits, model_specs

    q = cfg["quant"]
    uniform = default_bits(model_specs(cfg["model"]["name"], **model_shape(cfg)), q["wbits"],
                           q["abits"])
    return {n: b for n, b in layer_bits(cfg).items() if b != uniform[n]}


def mixed_label(cfg: dict, sep: str = ", ") -> str:
    """``pw3 W2A3, fc W4A4`` for the layers :func:`mixed_layers` lists ("" if uniform)."""
    return sep.join(f"{n} W{b['wbits']}A{b['abits']}" if b["wbits"] else f"{n} A{b['abits']}"
                    for n, b in mixed_layers(cfg).items())


def default_out(cfg: dict) -> str:
    """``builds/<model>_w<wbits>a<abits>``: one folder per bit configuration. Mixed precision adds
    the layers that differ (``_pw3-w2a3``), or a digest of them when that grows past 40 chars."""
    import hashlib

    q = cfg["quant"]
    base = f"builds/{cfg['model']['name']}_w{q['wbits']}a{q['abits']}"
    mixed = mixed_layers(cfg)
    if not mixed:
        return base
    tag = "_".join(f"{n}-w{b['wbits']}a{b['abits']}" if b["wbits"] else f"{n}-a{b['abits']}"
                   for n, b in mixed.items())
    if len(tag) > 40:
        tag = "mixed-" + hashlib.sha256(json.dumps(mixed, sort_keys=True).encode()).hexdigest()[:8]
    return f"{base}_{tag}"


def model_from_config(cfg: dict, seed: int | None = None):
    """An untrained (uncalibrated) model as the configuration describes it (seeded if given)."""
    from sat_hw.nn.models import build_model

    return build_model(cfg["model"]["name"], seed=seed, **model_shape(cfg), bits=layer_bits(cfg),
                       method=cfg["quant"]["method"],
                       scale_all_convs=cfg["quant"]["scale_all_convs"],
                       fc_scale=cfg["quant"]["fc_scale"])


def to_toml(cfg: dict) -> str:
    """The resolved configuration as TOML text (what a build folder records)."""
    lines = []
    for section in SCHEMA:
        if section == "fold":
            continue
        lines.append(f"[{section}]")
        for key, v in cfg[section].items():
            if key != "layers":
                lines.append(f"{key} = {_toml_value(v)}")
        lines.append("")
    for name, table in cfg["quant"].get("layers", {}).items():
        lines.append(f"[quant.layers.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    for name, table in cfg.get("fold", {}).items():
        lines.append(f"[fold.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    return str(v)
