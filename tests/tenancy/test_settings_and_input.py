"""Bad input gives a clear error, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from callseal.regions import RegionConfigError, load_regions
from callseal.tenancy.router import region_alias
from callseal.tenancy.selectors import TenantNotFound, tenant_get_by_slug
from callseal.tenancy.services import tenant_create
from tests.conftest import ALL_DATABASES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"CALLSEAL_REGIONS": ""}, "CALLSEAL_REGIONS"),
        ({"CALLSEAL_REGIONS": "us,EU"}, "CALLSEAL_REGIONS"),
        ({"CALLSEAL_REGIONS": "us,us"}, "CALLSEAL_REGIONS"),
        ({"REGION_EU_DATABASE_URL": "mysql://db/eu"}, "REGION_EU_DATABASE_URL"),
        ({"REGION_US_STORAGE_ROOT": "relative/path"}, "REGION_US_STORAGE_ROOT"),
        ({"REGION_US_INFERENCE_URL": "ftp://x"}, "REGION_US_INFERENCE_URL"),
        ({"REGION_EU_LLM_URL": "http://"}, "REGION_EU_LLM_URL"),
        ({"REGION_EU_KEY_REF": "vault"}, "REGION_EU_KEY_REF"),
        ({"REGION_US_CELERY_QUEUE": "has space"}, "REGION_US_CELERY_QUEUE"),
        ({"REGION_EU_LLM_SERVER": "ollama"}, "REGION_EU_LLM_SERVER"),
    ],
)
def test_misconfigured_region_names_the_setting(environ, setting, tmp_path):
    with pytest.raises(RegionConfigError) as info:
        load_regions(environ, var_dir=tmp_path, embedded=True)
    assert info.value.setting == setting
    assert str(info.value).startswith(setting + ":")


def test_server_mode_requires_each_region_database(tmp_path):
    with pytest.raises(RegionConfigError, match="REGION_EU_DATABASE_URL: is required"):
        load_regions(
            {"REGION_US_DATABASE_URL": "postgresql://u@h/us"}, var_dir=tmp_path, embedded=False
        )


def test_a_third_region_is_configuration_only(tmp_path):
    regions = load_regions({"CALLSEAL_REGIONS": "us,eu,ap"}, var_dir=tmp_path, embedded=True)
    assert regions["ap"].db_alias == "region_ap"
    assert regions["ap"].celery_queue == "region.ap"
    assert regions["ap"].inference_url == "http://127.0.0.1:8703"


def test_manage_py_reports_bad_settings_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "CALLSEAL_REGIONS": "us,eu",
            "REGION_EU_DATABASE_URL": "mysql://db/eu",
            "CALLSEAL_VAR_DIR": str(tmp_path),
        },
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Configuration error: REGION_EU_DATABASE_URL: scheme 'mysql' not in pgsql, postgres,"
        " postgresql, sqlite\n"
    )


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_tenant_in_a_region_that_does_not_exist_is_refused():
    with pytest.raises(ValidationError, match="region 'mars' does not exist"):
        tenant_create(slug="martian", name="Martian", region="mars")
    with pytest.raises(LookupError, match="region 'mars' is not configured"):
        region_alias("mars")


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_unknown_tenant_slug_is_a_clear_error():
    with pytest.raises(TenantNotFound, match="no tenant with slug 'nope'"):
        tenant_get_by_slug(slug="nope")


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ({"consent_mode": "whatever"}, "consent_mode must be one of"),
        ({"inference_fallback_regions": ["mars"]}, "must list configured regions"),
        ({"inference_fallback_regions": ["us"]}, "must not name the tenant's own region"),
        ({"retention_days": {"recordings": 0}}, "positive day counts"),
        ({"colour": "blue"}, "unknown policy keys: colour"),
    ],
)
def test_bad_tenant_policies_are_refused(policies, message):
    with pytest.raises(ValidationError, match=message):
        tenant_create(slug="p", name="P", region="us", policies=policies)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_bad_slug_is_refused():
    with pytest.raises(ValidationError, match="slug"):
        tenant_create(slug="Not A Slug", name="X", region="us")
