"""Deploy-time variables in env values (docs/behaviour.md §6.5)."""
from __future__ import annotations

from translate_fixtures import container, render, web


def _env(rendered, name="web"):
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(rendered, name)["env"]}


def test_public_endpoints_are_injected_into_every_container():
    rendered = render(web(environment=[{"name": "URL", "value": "https://${SERVICE_WEB_LB_PUBLIC_ENDPOINT}/"}],
                          endpoints=[{"name": "web-lb"}]),
                      {"name": "worker", "image": "acme/worker"},
                      options_data={"public_endpoints": {"web-lb": "203.0.113.7"}})
    for name in ("web", "worker"):
        env = _env(rendered, name)
        assert env["SERVICE_WEB_LB_PUBLIC_ENDPOINT"] == "203.0.113.7"
        assert env["ENDPOINT_WEB_LB_PUBLIC_ENDPOINT"] == "203.0.113.7"
    assert _env(rendered)["URL"] == "https://203.0.113.7/"
    names = [item["name"] for item in container(rendered, "web")["env"]]
    assert names == ["URL", "SERVICE_WEB_LB_PUBLIC_ENDPOINT", "ENDPOINT_WEB_LB_PUBLIC_ENDPOINT"]


def test_unknown_deploy_time_names_stay_verbatim():
    value = "${SERVICE_API_PUBLIC_ENDPOINT} ${UNKNOWN} ${__TASK_X_TARGET_ENVIRONMENT_NAME} $NOT_BRACED"
    env = _env(render(web(environment=[{"name": "A", "value": value}])))
    assert env == {"A": value}


def test_deploy_variables_substitute_and_service_ones_are_injected():
    options = {"deploy_variables": {"SERVICE_API_PUBLIC_ENDPOINT": "api.example.com",
                                    "__TASK_INFRA_TARGET_ENVIRONMENT_NAME": "infra-master"}}
    env = _env(render(web(environment=[{"name": "A", "value": "${SERVICE_API_PUBLIC_ENDPOINT}"},
                                       {"name": "B", "value": "db.${__TASK_INFRA_TARGET_ENVIRONMENT_NAME}"}]),
                      options_data=options))
    assert env == {"A": "api.example.com", "B": "db.infra-master",
                   "SERVICE_API_PUBLIC_ENDPOINT": "api.example.com"}


def test_earlier_task_variable_does_not_override_the_service_own():
    options = {"deploy_variables": {"SERVICE_API_PUBLIC_ENDPOINT": "api.example.com"}}
    env = _env(render(web(environment=[{"name": "SERVICE_API_PUBLIC_ENDPOINT", "value": "mine"}]), options_data=options))
    assert env == {"SERVICE_API_PUBLIC_ENDPOINT": "mine"}


def test_this_deployment_endpoint_overrides_the_service_own():
    env = _env(render(web(environment=[{"name": "SERVICE_EP_PUBLIC_ENDPOINT", "value": "placeholder"}]),
                      options_data={"public_endpoints": {"ep": "ep.example.com"}}))
    assert env["SERVICE_EP_PUBLIC_ENDPOINT"] == "ep.example.com"


def test_env_vars_of_the_component_are_a_mapping_too():
    """Pipe replaced ``${NAME}`` with every env var of the component (single pass)."""
    env = _env(render(web(environment=[{"name": "HOST", "value": "db"},
                                       {"name": "URL", "value": "mysql://${HOST}/${URL}"}])))
    assert env["URL"] == "mysql://db/mysql://${HOST}/${URL}"


def test_duplicates_collapse_to_the_first_position_and_last_value():
    rendered = render(web(environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                                       {"name": "A", "value": "3"}]))
    assert container(rendered, "web")["env"] == [{"name": "A", "value": "3"}, {"name": "B", "value": "2"}]


def test_substitution_only_in_env_values():
    rendered = render(web(command=["echo", "${SERVICE_EP_PUBLIC_ENDPOINT}"]),
                      options_data={"public_endpoints": {"ep": "ep.example.com"}})
    assert container(rendered, "web")["command"] == ["echo", "${SERVICE_EP_PUBLIC_ENDPOINT}"]
