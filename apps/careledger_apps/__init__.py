"""The two web apps: the hospital app (clinicians, researchers) and the patient consent portal."""

from .hospital import create_app as create_hospital_app
from .portal import create_app as create_portal_app

__all__ = ["create_hospital_app", "create_portal_app"]
