"""The web apps: the hospital app (clinicians, researchers), the patient consent portal, the researcher app
and the health authority's auditor app."""

from .auditor import create_app as create_auditor_app
from .hospital import create_app as create_hospital_app
from .portal import create_app as create_portal_app
from .research import create_app as create_research_app

__all__ = ["create_auditor_app", "create_hospital_app", "create_portal_app", "create_research_app"]
