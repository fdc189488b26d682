"""`careledger-apps` (or python -m careledger_apps): serve the web apps of the local network over HTTPS.

    careledger-apps hospital --org hospital1 [--models DIR]    the hospital app of one hospital
    careledger-apps portal                                      the patients' consent portal
    careledger-apps research [--models DIR]                     the researchers' app (every hospital's)
    careledger-apps auditor [--models DIR]                      the health authority's auditor app

Each reads its organization's connection profile and TLS files from the network's state folder
(CARELEDGER_STATE, default network/state) and serves with gunicorn in this process (serve.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from careledger_network.paths import state_dir

from . import create_auditor_app, create_hospital_app, create_portal_app, create_research_app
from .serve import serve

EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 2, 4


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _profile(org: str) -> tuple[Path, dict[str, Any]]:
    profile = state_dir() / "profiles" / f"{org.lower()}.json"
    if not profile.exists():
        _fail(f"no connection profile at {profile}: is the network up (`make network-up`)?", EXIT_UNAVAILABLE)
    return profile, json.loads(profile.read_text())["x-careledger"]


def _display_config(org: str) -> dict[str, Any]:
    """Names and times for an app of `org`: the consortium's organization names and that organization's time
    zone, and where the hospitals' directories are (careledger.directory)."""
    from careledger_network.bundle import definition_of
    from careledger_network.consortium import load

    consortium = load(definition_of(state_dir()))
    return {
        "DIRECTORY_DIR": str(state_dir() / "directory"),
        "ORG_NAMES": {o.msp_id: o.display_name for o in consortium.orgs},
        "TIME_ZONE": consortium.org(org).time_zone,
    }


def _serve(app: Any, host: str, port: int, tls: Path) -> None:
    click.echo(f"serving on https://{host}:{port}/")
    try:
        serve(app, host, port, tls / "server.crt", tls / "server.key")
    except FileNotFoundError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)


@click.group()
def main() -> None:
    """CareLedger's web apps."""


@main.command()
@click.option("--org", required=True, help="the hospital (hospital1, ...)")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, help="default: the org's app port from the consortium")
@click.option("--models", "model_dir", type=click.Path(path_type=Path), default=Path("models/artifacts"))
def hospital(org: str, host: str, port: int | None, model_dir: Path) -> None:
    """Serve the hospital app of --org (its clinicians and researchers)."""
    profile, meta = _profile(org)
    if not meta.get("app_port"):
        _fail(f"{org} runs no hospital app (no record store in the consortium definition)", EXIT_BAD_INPUT)
    tls = state_dir() / "crypto" / profile.stem / "app"
    app = create_hospital_app(
        {
            "PROFILE": str(profile),
            "ORG_KEY_FROM": meta["org_admin"],
            "EMERGENCY_RELEASER": meta["org_admin"],  # emergency releases and recovered keys' re-wraps (_releaser)
            "MODEL_DIR": str(model_dir),
            "DEVICE_SECRET_FILE": str(tls / "hospital-device-secret"),  # known devices outlive restarts
            **_display_config(org),
        }
    )
    _serve(app, host, port or int(meta["app_port"]), tls)


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, help="default: the portal port from the consortium")
def portal(host: str, port: int | None) -> None:
    """Serve the consent portal for the patients of every hospital."""
    profiles_dir = state_dir() / "profiles"
    any_profile = next(iter(sorted(profiles_dir.glob("*.json"))), None)
    if any_profile is None:
        _fail(f"no connection profiles in {profiles_dir}: is the network up (`make network-up`)?", EXIT_UNAVAILABLE)
        return
    meta = json.loads(any_profile.read_text())["x-careledger"]
    profiles = {p.stem: str(p) for p in sorted(profiles_dir.glob("*.json")) if p.stem in meta["hospitals"]}
    tls = state_dir() / "crypto" / meta["portal_org"] / "app"
    app = create_portal_app(
        {
            "PROFILES": profiles,
            "GRANTEE_ORGS": meta["grantee_msps"],
            "DEVICE_SECRET_FILE": str(tls / "portal-device-secret"),  # known devices outlive restarts
            "SEEN_FILE": str(tls / "portal-seen.json"),  # notifications' last-seen markers (no ids, no data)
            **_display_config(meta["portal_org"]),
        }
    )
    _serve(app, host, port or int(meta["portal_port"]), tls)


def _authority_meta() -> dict[str, Any]:
    """The connection metadata every profile carries (the authority serves the portal, research and auditor apps)."""
    profiles_dir = state_dir() / "profiles"
    any_profile = next(iter(sorted(profiles_dir.glob("*.json"))), None)
    if any_profile is None:
        _fail(f"no connection profiles in {profiles_dir}: is the network up (`make network-up`)?", EXIT_UNAVAILABLE)
        raise AssertionError  # _fail exits
    meta: dict[str, Any] = json.loads(any_profile.read_text())["x-careledger"]
    return meta


def _port(port: int | None, meta: dict[str, Any], key: str) -> int:
    found = port or int(meta.get(key, 0))
    if not found:
        _fail(f"no {key} in the connection profiles (made before this app existed): give --port", EXIT_BAD_INPUT)
    return found


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, help="default: the researcher app's port from the consortium")
@click.option("--models", "model_dir", type=click.Path(path_type=Path), default=Path("models/artifacts"))
def research(host: str, port: int | None, model_dir: Path) -> None:
    """Serve the researcher app for the researchers of every hospital."""
    meta = _authority_meta()
    profiles_dir = state_dir() / "profiles"
    profiles = {h: str(profiles_dir / f"{h}.json") for h in meta["hospitals"]}
    tls = state_dir() / "crypto" / meta["portal_org"] / "app"
    app = create_research_app(
        {
            "PROFILES": profiles,
            "MODEL_DIR": str(model_dir),
            "DEVICE_SECRET_FILE": str(tls / "research-device-secret"),  # known devices outlive restarts
        }
    )
    _serve(app, host, _port(port, meta, "research_port"), tls)


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, help="default: the auditor app's port from the consortium")
@click.option("--models", "model_dir", type=click.Path(path_type=Path), default=Path("models/artifacts"))
def auditor(host: str, port: int | None, model_dir: Path) -> None:
    """Serve the auditor app for the health authority's auditors."""
    meta = _authority_meta()
    profile = state_dir() / "profiles" / f"{meta['portal_org']}.json"
    tls = state_dir() / "crypto" / meta["portal_org"] / "app"
    app = create_auditor_app(
        {
            "PROFILE": str(profile),
            "MODEL_DIR": str(model_dir),
            "DEVICE_SECRET_FILE": str(tls / "auditor-device-secret"),  # known devices outlive restarts
        }
    )
    _serve(app, host, _port(port, meta, "audit_port"), tls)


if __name__ == "__main__":
    main()
