# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names exactly as ContinuousPipe computes them (docs/behaviour.md §8, §6.5)."""
from __future__ import annotations

import re

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import NamingError

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
LONG_BRANCH = "this-long-branch-name-will-force-continuous-pipe-to-truncate-hash-and-do-its-magic-for-it-to-work"
SHINY_BRANCH = "my-very-long-shiny-new-feature-branch-name"


# --- §8.4 verified examples, every row -----------------------------------------------------

def test_default_environment_name():
    # FEAT/river/domain/tasks/environment-name.feature "The final environment name should be lowercase"
    assert naming.environment_name(ZERO_UUID, "feature/123-FOO-bar") == \
        "00000000-0000-0000-0000-000000000000-feature-123-foo-bar"


def test_default_environment_name_is_truncated_with_md5():
    # FEAT/river/domain/tasks/deploy/environment-names-as-variables.feature
    assert naming.environment_name(ZERO_UUID, LONG_BRANCH) == \
        "00000000-0000-0000-0000-000000000000-this-long-branc-8ef2133d04"


def test_environment_name_from_expression():
    # environment-name.feature "I can use an expression for the environment name for a deploy task"
    context = expressions.tide_context(ZERO_UUID, "feature/123-FOO-bar", "sha")
    value = expressions.evaluate('"river-" ~ code_reference.branch', context)
    assert naming.environment_name(ZERO_UUID, "feature/123-FOO-bar", value) == "river-feature-123-foo-bar"


def test_environment_policy_prefix():
    # FEAT/river/domain/cluster-policies/environment-policy.feature
    assert naming.environment_name(ZERO_UUID, "master", policy_prefix="abc123-") == "abc123-9f89c-master"


def test_environment_policy_prefix_long_branch():
    branch = "feature/this-is-a-very-very-long-branch-name-describing-the-feature"
    assert naming.environment_name(ZERO_UUID, branch, policy_prefix="abc123-") == \
        "abc123-9f89c-feature-this-is-a-very-very-long-branch-e61cb61c01"


def test_hash_long_domain_prefix_expression():
    # FEAT/river/domain/tasks/deploy/endpoints.feature
    context = expressions.flow_context(ZERO_UUID, SHINY_BRANCH, "sha")
    value = expressions.evaluate(
        'hash_long_domain_prefix(code_reference.branch, 27) ~ "-certeo.inviqa-001.example.com"',
        context, expressions.C1_FUNCTIONS)
    assert value == "my-very-long-shi-02b27a5635-certeo.inviqa-001.example.com"


def test_httplabs_record_suffix():
    suffix = "-certeo.inviqa-001.httplabs.net"
    assert len(suffix) == 31
    assert naming.host_from_suffix(SHINY_BRANCH, suffix, key="httplabs record_suffix") == \
        "my-very-long-shiny-new-02b27a5635-certeo.inviqa-001.httplabs.net"


def test_ingress_host_suffix_before_4508fa86e():
    suffix = "-certeo.inviqa-001.continuouspipe.net"
    assert len(suffix) == 37
    assert naming.host_from_suffix("feature/my-very-long-shiny-new-branch-name", suffix) == \
        "feature-my-very-c5743d6c37-certeo.inviqa-001.continuouspipe.net"


def test_ingress_host_suffix_at_head():
    # The HEAD feature still expects "feature-my-very-c5743d6c37-…example.com" (stale since the
    # text-only rename 4508fa86e); this is what the algorithm produces for the HEAD input.
    suffix = "-certeo.inviqa-001.example.com"
    assert len(suffix) == 30
    host = naming.host_from_suffix("feature/my-very-long-shiny-new-branch-name", suffix)
    assert host == "feature-my-very-long-sh-c5743d6c37-certeo.inviqa-001.example.com"
    assert len(host) == naming.MAX_HOST_LENGTH


def test_endpoint_policy_ingress_host_suffix():
    # FEAT/river/domain/cluster-policies/endpoint-policy.feature (pre-4508fa86e): "-<endpoint><suffix>"
    assert naming.host_from_suffix("master", "-app" + "-1234.continuouspipe.net") == \
        "master-app-1234.continuouspipe.net"


def test_host_suffix_expression_gives_the_same_host():
    suffix = "-certeo.inviqa-001.example.com"
    source = naming.host_suffix_expression(suffix)
    assert source == 'hash_long_domain_prefix(slugify(code_reference.branch), 34) ~ "-certeo.inviqa-001.example.com"'
    branch = "feature/my-very-long-shiny-new-branch-name"
    value = expressions.evaluate(source, expressions.flow_context(ZERO_UUID, branch, "sha"),
                                 expressions.C1_FUNCTIONS)
    assert value == naming.host_from_suffix(branch, suffix)


def test_host_suffix_short_branch():
    # endpoints.feature "Non-matching condition means the endpoint is not used"
    assert naming.host_from_suffix("master", "-12357-flex.example.com") == "master-12357-flex.example.com"
    # a suffix without a leading "-" or "." glues onto the branch (corpus/documentation)
    assert naming.host_from_suffix("master", "documentation-dev.continuouspipe.io") == \
        "masterdocumentation-dev.continuouspipe.io"


def test_host_suffix_length_limit():
    naming.host_from_suffix("master", "-" + "a" * 52)  # 53 characters: accepted
    with pytest.raises(NamingError) as error:
        naming.host_from_suffix("master", "-" + "a" * 53)
    assert str(error.value) == "The ingress host_suffix cannot be more than 53 characters long"
    with pytest.raises(NamingError) as error:
        naming.host_from_suffix("master", "." + "a" * 60, key="cloud_flare_zone record_suffix")
    assert str(error.value) == "The cloud_flare_zone record_suffix cannot be more than 53 characters long"


def test_hash_long_domain_prefix():
    assert naming.hash_long_domain_prefix("short", 27) == "short"
    assert naming.hash_long_domain_prefix("a" * 27, 27) == "a" * 27
    prefix = "abcdefghijklmn-opqrstuvwxyz"
    # cut to 26 - 11 = 15 characters, trailing "-" stripped, then "-" and md5(prefix)[:10]
    assert naming.hash_long_domain_prefix(prefix, 26) == "abcdefghijklmn-" + naming.md5_10(prefix)
    # lengths are mb_strlen (characters), the md5 is over the UTF-8 bytes
    assert naming.hash_long_domain_prefix("ü" * 30, 27) == "ü" * 16 + "-" + naming.md5_10("ü" * 30)
    # PHP mb_substr with a negative length drops characters from the end, like Python slicing
    assert naming.hash_long_domain_prefix("abc", 2) == "-" + naming.md5_10("abc")


# --- environment names ---------------------------------------------------------------------

@pytest.mark.parametrize("branch, expected", [
    ("my-feature", ZERO_UUID + "-my-feature"),
    ("feature/123-foo-bar", ZERO_UUID + "-feature-123-foo-bar"),
    ("Feature/Ünïcödé", ZERO_UUID + "-feature-uenicoede"),
])
def test_environment_name_feature(branch, expected):
    assert naming.environment_name(ZERO_UUID, branch) == expected


def test_long_branch_is_stripped_to_63():
    branch = "feature/123-foo-bar-my-branch-name-has-a-long-name"
    name = naming.environment_name(ZERO_UUID, branch)
    assert name != ZERO_UUID + "-feature-123-foo-bar-my-branch-name-has-a-long-name"
    assert len(name) == 63
    assert naming.is_dns1123_label(name)


def test_limited_length_boundaries():
    exact = ZERO_UUID + "-" + "a" * 26
    assert len(exact) == 63
    assert naming.limited_length(exact, ZERO_UUID) == exact
    longer = exact + "b"
    rest = longer[37:]
    assert naming.limited_length(longer, ZERO_UUID) == longer[:37] + rest[:15] + "-" + naming.md5_10(rest)
    # the 37 applies to custom names too
    custom = "river-" + "x" * 70
    assert naming.limited_length(custom, ZERO_UUID) == custom[:37] + custom[37:52] + "-" + naming.md5_10(custom[37:])


def test_environment_name_expression_values():
    assert naming.environment_name(ZERO_UUID, "master", "Foo Bar") == "foo-bar"
    assert naming.environment_name(ZERO_UUID, "master", 42) == "42"
    with pytest.raises(NamingError):
        naming.environment_name(ZERO_UUID, "master", ["list"])
    with pytest.raises(NamingError):
        naming.environment_name(ZERO_UUID, "master", True)


def test_md5():
    assert naming.md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e"
    assert naming.md5_10(ZERO_UUID)[:5] == "9f89c"
    assert naming.md5_hex("über") == "860828352d2d9e23a47335120b84fd9c"  # over the UTF-8 bytes, like PHP


# --- slugify (cocur/slugify v1.4.1; expected values produced by the PHP library) -----------

@pytest.mark.parametrize("text, separator, expected", [
    ("Hello World", "-", "hello-world"),
    ("don't", "-", "don-t"),
    ("Ä Ö Ü ä ö ü ß", "-", "ae-oe-ue-ae-oe-ue-ss"),
    ("user@example.com", "-", "useratexample-com"),
    ("Café Crème Brûlée", "-", "cafe-creme-brulee"),
    ("Привет мир", "-", "privet-mir"),
    ("Αυτό είναι", "-", "auto-inai"),
    ("日本 branch", "-", "branch"),
    ("ǹ-x", "-", "x"),
    ("x² y₃ 90°", "-", "x2-y3-900"),
    ("FOO_BAR baz", "_", "foo_bar_baz"),
    ("--a--b--", "-", "a-b"),
    ("Åse Øre Œuvre Þing", "-", "aase-oere-oeuvre-thing"),
    ("feature/JIRA-123_Fix: the (thing)!", "-", "feature-jira-123-fix-the-thing"),
    ("İstanbul Şişli Ğ ı", "-", "istanbul-sisli-g-i"),
    ("Žluťoučký kůň Łódź", "-", "zlutoucky-kun-lodz"),
    ("Tiếng Việt", "-", "tieng-viet"),
    ("ქართული", "-", "kartuli"),
    ("ÀÉÎÕÜ", "-", "aeioue"),
    ("Straße", ".", "strasse"),
    ("", "-", ""),
    ("   ", "-", ""),
    ("a\u0301b", "-", "a-b"),
])
def test_slugify(text, separator, expected):
    assert naming.slugify(text, separator) == expected


def test_slugify_differs_from_python_slugify():
    # docs/behaviour.md §12.5: python-slugify would give "dont" and transliterate differently
    assert naming.slugify("don't") == "don-t"
    assert naming.slugify("Ä") == "ae"


def test_component_and_run_names():
    assert naming.component_identifier("my_service") == "my-service"
    assert naming.component_identifier("Web.App") == "web-app"
    # deploy-attached-components.feature "The component name should be a valid DNS name"
    assert naming.run_pod_name("testing_command") == "run-testing-command"
    assert naming.run_pod_name("testing") == "run-testing"
    assert naming.registry_secret_name("6F5A3B1E-0000-4000-8000-000000000001") == \
        "cp-dock-registry-bucket-6f5a3b1e-0000-4000-8000-000000000001"
    assert naming.tls_secret_name("https", "continuous-pipe") == "https-continuous-pipe"
    assert naming.component_labels("web") == {"component-identifier": "web"}
    assert naming.COMPONENT_LABEL == "component-identifier"


@pytest.mark.parametrize("service, port, expected", [
    ("nginx", 80, "nginx80"),                       # PortIdentifierSpec
    ("elasticsearch", 9200, "elasticsear9200"),     # docker-compose-guessing.feature
    ("0123456789", 12345, "012345678912345"),
    ("api", "8080", "api8080"),
])
def test_port_identifier(service, port, expected):
    assert naming.port_identifier(service, port) == expected


def test_port_identifier_long_port_uses_crc32():
    identifier = naming.port_identifier("asdfghjklqwertyuiop", 123456789012345)
    assert len(identifier) <= 15
    assert re.fullmatch(r"asdfghj[0-9a-f]{1,8}", identifier)


# --- deploy-time variables ----------------------------------------------------------------

@pytest.mark.parametrize("endpoint, expected", [
    ("foo-dashed", "FOO_DASHED"),
    ("https-api", "HTTPS_API"),
    ("api", "API"),
    ("my.endpoint--x", "MY_ENDPOINT_X"),
    ("-edge-", "EDGE"),
])
def test_endpoint_variable_name(endpoint, expected):
    assert naming.endpoint_variable_name(endpoint) == expected


def test_public_endpoint_variables():
    assert naming.service_public_endpoint_variable("foo-dashed") == "SERVICE_FOO_DASHED_PUBLIC_ENDPOINT"
    assert naming.endpoint_public_endpoint_variable("https-api") == "ENDPOINT_HTTPS_API_PUBLIC_ENDPOINT"
    assert naming.is_public_endpoint_variable("SERVICE_FOO_DASHED_PUBLIC_ENDPOINT")
    assert naming.is_public_endpoint_variable("ENDPOINT_HTTPS_API_PUBLIC_ENDPOINT")
    assert not naming.is_public_endpoint_variable("SERVICE_foo_PUBLIC_ENDPOINT")
    assert not naming.is_public_endpoint_variable("DATABASE_URL")


@pytest.mark.parametrize("task, expected", [
    ("application", "__TASK_APPLICATION_TARGET_ENVIRONMENT_NAME"),
    ("application-deployment", "__TASK_APPLICATION_DEPLOYMENT_TARGET_ENVIRONMENT_NAME"),
    ("infrastructure", "__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME"),
    ("task0", "__TASK_TASK0_TARGET_ENVIRONMENT_NAME"),
])
def test_task_variable_name(task, expected):
    assert naming.task_variable_name(task) == expected


# --- validation and labels ----------------------------------------------------------------

@pytest.mark.parametrize("value, label, subdomain, label_value", [
    ("my-name", True, True, True),
    ("123-abc", True, True, True),
    ("a", True, True, True),
    ("", False, False, True),
    ("-start", False, False, False),
    ("end-", False, False, False),
    ("Upper", False, False, True),
    ("a.b", False, True, True),
    ("a_b", False, False, True),
    ("a" * 63, True, True, True),
    ("a" * 64, False, True, False),
    (ZERO_UUID, True, True, True),
])
def test_validators(value, label, subdomain, label_value):
    assert naming.is_dns1123_label(value) is label
    assert naming.is_dns1123_subdomain(value) is subdomain
    assert naming.is_label_value(value) is label_value


def test_validation_messages_name_the_expected_form():
    errors = naming.dns1123_label_errors("Bad_Name")
    assert len(errors) == 1
    assert "lower case alphanumeric characters or '-'" in errors[0]
    assert "[a-z0-9]([-a-z0-9]*[a-z0-9])?" in errors[0]
    assert naming.dns1123_label_errors("a" * 64) == ["must be no more than 63 characters"]
    assert "253" in naming.dns1123_subdomain_errors("a" * 254)[0]
    assert "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?" in naming.label_value_errors("-x")[0]
    with pytest.raises(NamingError) as error:
        naming.check_dns1123_label("Bad_Name", "namespace")
    assert str(error.value).startswith('Invalid namespace "Bad_Name": a lowercase RFC 1123 label')
    assert naming.check_dns1123_subdomain("a.b") == "a.b"
    assert naming.check_label_value("") == ""


def test_environment_labels():
    assert naming.environment_labels("my-env", ZERO_UUID) == {
        "continuous-pipe-environment": "my-env",
        "created-by": "continuous-pipe",
        "flow": ZERO_UUID,
    }
    with pytest.raises(NamingError) as error:
        naming.environment_labels("my-env", "not a uuid!")
    assert "label flow" in str(error.value)
