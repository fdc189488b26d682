"""The sign-in throttle on its own, with a fake clock: slowing, no lock-out, bounded memory, known devices."""

from __future__ import annotations

import time

import pytest
from careledger_apps._devices import MAX_AGE, KnownDevices, load_secret
from careledger_apps._throttle import ACCOUNT, ADDRESS, DAY, DEVICE, Throttle, TooManyAttempts, address_key, in_words

ACCOUNT_KEY = "hospital1\x00h1-patient-1"


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


def _try(throttle: Throttle, address: str, device: str | None = None, account: str = ACCOUNT_KEY) -> float:
    """0 if the attempt was let through (and failed), else the seconds it was told to wait."""
    try:
        throttle.begin(account, address, device)
    except TooManyAttempts as exc:
        return float(exc.retry_after)
    return 0.0


def test_many_addresses_guessing_one_account_are_slowed_exponentially() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    addresses = (f"203.0.113.{n}" for n in range(10**6))
    for _ in range(ACCOUNT.free):
        assert _try(throttle, next(addresses)) == 0
    delays = []
    for _ in range(10):
        wait = _try(throttle, next(addresses))  # a fresh address every time does not help
        assert wait > 0
        clock.now += wait
        assert _try(throttle, next(addresses)) == 0
        delays.append(wait)
    assert delays == [10, 20, 40, 80, 160, 320, 640, 900, 900, 900]


def test_the_daily_cap_holds_failures_well_under_100_per_day() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    failures, n = 0, 0
    start = clock.now
    while clock.now - start < DAY:
        n += 1
        wait = _try(throttle, f"2001:db8:{n:x}::1")  # a botnet: a new network for every try
        if wait == 0:
            failures += 1
        clock.now += max(wait, 1)
    assert failures == ACCOUNT.per_day < 100


def test_a_known_device_signs_in_while_the_account_is_under_attack() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for n in range(200):
        _try(throttle, f"203.0.113.{n}")
        clock.now += 1
    assert _try(throttle, "198.51.100.7") > 0  # a new browser waits
    ticket = throttle.begin(ACCOUNT_KEY, "198.51.100.7", device="laptop")  # her laptop does not
    ticket.succeeded()
    assert _try(throttle, "203.0.113.1", device="laptop") == 0


def test_a_device_has_its_own_small_limit() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(DEVICE.free):
        assert _try(throttle, "198.51.100.7", device="stolen-cookie") == 0
    assert _try(throttle, "198.51.100.7", device="stolen-cookie") == DEVICE.base
    assert _try(throttle, "198.51.100.7", device="another-device") == 0  # other devices are not affected


def test_one_address_cannot_lock_out_the_user_beyond_the_account_delay() -> None:
    """A single address guesses whenever it is let through, for two days. At every moment, the real user on
    a new browser from another address waits at most ACCOUNT.cap, and the account's day is never used up."""
    clock = Clock()
    throttle = Throttle(clock=clock)
    attacker, start = "203.0.113.66", clock.now
    while clock.now - start < 2 * DAY:
        _try(throttle, attacker)
        assert throttle.accounts.wait(ACCOUNT_KEY, clock.now) <= ACCOUNT.cap
        clock.now += 5
    assert ADDRESS.per_day < ACCOUNT.per_day
    assert throttle.accounts.items[ACCOUNT_KEY].day <= ADDRESS.per_day
    clock.now += ACCOUNT.cap
    throttle.begin(ACCOUNT_KEY, "198.51.100.7").succeeded()  # she gets in


def test_a_success_forgives_its_own_charge_and_ends_the_run() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(ACCOUNT.free - 1):
        _try(throttle, "198.51.100.7")
    throttle.begin(ACCOUNT_KEY, "198.51.100.7").succeeded()
    assert throttle.accounts.items[ACCOUNT_KEY].streak == 0
    for _ in range(ACCOUNT.free):
        assert _try(throttle, "198.51.100.7") == 0  # a fresh run of free tries


def test_parallel_attempts_cannot_all_slip_through() -> None:
    throttle = Throttle(clock=Clock())
    tickets = [throttle.begin(ACCOUNT_KEY, "198.51.100.7") for _ in range(ACCOUNT.free)]  # none finished yet
    with pytest.raises(TooManyAttempts):  # each was charged when it started: the next one waits
        throttle.begin(ACCOUNT_KEY, "198.51.100.7")
    assert len(tickets) == ACCOUNT.free


def test_counters_do_not_grow_without_bound() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock, max_entries=500)
    for n in range(20_000):  # a flood of made-up accounts from made-up addresses
        _try(throttle, f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", account=f"hospital1\x00nobody-{n}")
    assert throttle.entries() <= 2 * 500
    clock.now += DAY + ADDRESS.forget
    _try(throttle, "198.51.100.7", account="hospital1\x00late")
    assert throttle.entries() == 2  # stale counters go first: only the new ones are left
    throttle.begin("hospital1\x00someone", "198.51.100.8").succeeded()
    assert throttle.entries() == 2  # a success leaves nothing behind


def test_ipv6_addresses_count_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("?") == "?"


def test_waits_in_words() -> None:
    assert in_words(1) == "1 second"
    assert in_words(45) == "45 seconds"
    assert in_words(900) == "about 15 minutes"
    assert in_words(5 * 3600) == "about 5 hours"


def test_known_device_cookies_verify_only_for_their_account(tmp_path: object) -> None:
    clock = Clock()
    clock.now = time.time()
    devices = KnownDevices(b"k" * 32, "portal", clock=clock)
    name, value = devices.issue(ACCOUNT_KEY)
    assert name == devices.cookie_name(ACCOUNT_KEY)
    assert name.startswith("portal-device-")
    assert "patient" not in name
    assert "patient" not in value
    device = devices.verify(value, ACCOUNT_KEY)
    assert device
    assert devices.verify(devices.issue(ACCOUNT_KEY, device)[1], ACCOUNT_KEY) == device  # renewed, same id
    assert devices.verify(value, "hospital1\x00h1-patient-2") is None
    assert KnownDevices(b"x" * 32, "portal", clock=clock).verify(value, ACCOUNT_KEY) is None  # another secret
    payload, mac = value.split(".")
    other = {c: "B" if c == "A" else "A" for c in (payload[-1], mac[-1])}
    changed = (f"{payload}.{mac[:-1]}{other[mac[-1]]}", f"{payload[:-1]}{other[payload[-1]]}.{mac}")
    for forged in (*changed, payload, "", "a.b.c", "." * 600, "\x00.\x00", f"{payload}.{mac}=="):
        assert devices.verify(forged, ACCOUNT_KEY) is None
    clock.now += MAX_AGE + 1
    assert devices.verify(value, ACCOUNT_KEY) is None  # expired


def test_the_device_secret_is_kept_in_a_private_file(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "secret"
    first = load_secret(path)
    assert len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(path) == first  # the same after a restart
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="no usable"):
        load_secret(path)


def test_an_attempt_the_server_could_not_decide_is_not_charged() -> None:
    throttle = Throttle(clock=Clock())
    for _ in range(3 * ACCOUNT.free):  # e.g. the peer was down: the passphrase was never checked
        throttle.begin(ACCOUNT_KEY, "198.51.100.7").cancel()
    assert throttle.entries() == 0
    assert _try(throttle, "198.51.100.7") == 0
