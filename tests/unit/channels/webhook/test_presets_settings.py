"""Webhook routes and filters: WEBHOOK_ROUTES and webhook.json, validated strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_channels.channels.webhook import _presets as presets
from support.webhook import github_examples, payload_file


def load(tmp_path: Path, document: object = None, **env: str) -> presets.PresetSettings:
    if document is not None:
        (tmp_path / presets.SETTINGS_FILE).write_text(document if isinstance(document, str) else json.dumps(document))
    return presets.PresetSettings.from_environ(env, tmp_path)


def test_no_settings_means_auto_detection_everywhere(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings == presets.PresetSettings((), 500, 100 * 1024 * 1024)
    assert settings.route_for("/anything/at/all").preset == "auto"


def test_paths_are_globs_and_the_first_matching_route_wins(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"routes": [{"path": "/ci/*", "preset": "raw"}, {"path": "/ci/**", "preset": "gitlab"}, {"path": "/exact"}]},
        WEBHOOK_ROUTES="/gh/**=github",
    )
    assert [route.path for route in settings.routes] == ["/gh/**", "/ci/*", "/ci/**", "/exact"]
    assert settings.route_for("/gh").preset == "github" and settings.route_for("/gh/org/repo").preset == "github"
    assert settings.route_for("/ghx").path == "/**"
    assert settings.route_for("/ci/build").preset == "raw" and settings.route_for("/ci/a/b").preset == "gitlab"
    assert settings.route_for("/exact").path == "/exact" and settings.route_for("/exact/").path == "/**"


def test_the_environment_takes_json_routes_and_retention_limits(tmp_path: Path) -> None:
    routes = json.dumps([{"path": "/x", "template": "hi {{ a }}"}])
    settings = load(tmp_path, {"inbox": {"max_files": 3}}, WEBHOOK_ROUTES=routes, WEBHOOK_INBOX_MAX_BYTES="1000")
    assert settings.route_for("/x").preset == "template"
    assert (settings.inbox_max_files, settings.inbox_max_bytes) == (3, 1000)
    assert load(tmp_path, WEBHOOK_INBOX_MAX_FILES="0").inbox_max_files == 0


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "webhook.json: not valid JSON"),
        ('{"routes": [], "routes": []}', "key 'routes' appears twice"),
        ("[]", 'must be a JSON object with "routes" and/or "inbox"'),
        ({"rutes": []}, "webhook.json: unknown key 'rutes' (known: routes, inbox)"),
        ({"routes": {}}, "webhook.json: routes: must be an array of routes"),
        ({"routes": ["/gh"]}, 'routes[0]: a route must be an object with a "path"'),
        ({"routes": [{"preset": "github"}]}, "routes[0].path: must be a path starting with /"),
        ({"routes": [{"path": "gh"}]}, "routes[0].path: must be a path starting with /"),
        ({"routes": [{"path": "/a?b=1"}]}, "routes[0].path: must be a path starting with /"),
        ({"routes": [{"path": "/a", "colour": "red"}]}, "routes[0]: unknown key 'colour' (known: path, preset, template, meta, only, drop)"),
        ({"routes": [{"path": "/a"}, {"path": "/b", "preset": "gitub"}]}, "routes[1].preset: 'gitub' is not a preset (one of auto, github"),
        ({"routes": [{"path": "/a", "preset": "github", "template": "x"}]}, "routes[0]: a route has a template or a preset, not both"),
        ({"routes": [{"path": "/a", "template": ""}]}, "routes[0].template: must be a non-empty text"),
        ({"routes": [{"path": "/a", "template": "{{ a | nope }}"}]}, "routes[0].template: unknown filter 'nope'"),
        ({"routes": [{"path": "/a", "meta": {"source": "a"}}]}, "routes[0].meta: 'source' cannot be a meta key"),
        ({"routes": [{"path": "/a", "meta": {"bad-key": "a"}}]}, "routes[0].meta: 'bad-key' cannot be a meta key"),
        ({"routes": [{"path": "/a", "meta": {"k": 1}}]}, "routes[0].meta.k: must be a selector text"),
        ({"routes": [{"path": "/a", "meta": {"k": "a..b"}}]}, "routes[0].meta.k: expected a key name after '.'"),
        ({"routes": [{"path": "/a", "only": {}}]}, "routes[0].only: must be a non-empty object of field → pattern(s)"),
        ({"routes": [{"path": "/a", "drop": [{"branch": "main"}, {"branch": 3}]}]}, "routes[0].drop[1].branch: must be a pattern text or a non-empty array"),
        ({"routes": [{"path": "/a", "only": {"ev ent": "x"}}]}, "routes[0].only: 'ev ent' is neither a meta key nor a $.selector"),
        ({"routes": [{"path": "/a", "only": {"$.a[": "x"}}]}, "routes[0].only.$.a[: expected an index"),
        ({"inbox": {"max_files": -1}}, "webhook.json: inbox.max_files: must be a whole number from 0 to 100000"),
        ({"inbox": {"max_bytes": "big"}}, "inbox.max_bytes: must be a whole number"),
        ({"inbox": {"keep": 1}}, "webhook.json: inbox: unknown key 'keep'"),
    ],
)  # fmt: skip
def test_a_broken_settings_file_is_refused_naming_the_field(tmp_path: Path, document: object, problem: str) -> None:
    with pytest.raises(presets.SettingsError) as caught:
        load(tmp_path, document)
    assert problem in str(caught.value)
    assert str(tmp_path / "webhook.json") in str(caught.value)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"WEBHOOK_ROUTES": "/gh"}, "WEBHOOK_ROUTES: item 1 '/gh' is not PATH=PRESET"),
        ({"WEBHOOK_ROUTES": "/a=github,/b=gitlb"}, "WEBHOOK_ROUTES: item 2.preset: 'gitlb' is not a preset"),
        ({"WEBHOOK_ROUTES": "[{]"}, "WEBHOOK_ROUTES: not valid JSON"),
        ({"WEBHOOK_ROUTES": '[{"path": "x"}]'}, "WEBHOOK_ROUTES[0].path: must be a path starting with /"),
        ({"WEBHOOK_INBOX_MAX_FILES": "many"}, "WEBHOOK_INBOX_MAX_FILES='many': must be a whole number"),
    ],
)
def test_a_broken_environment_setting_is_refused_naming_it(tmp_path: Path, env: dict[str, str], problem: str) -> None:
    with pytest.raises(presets.SettingsError) as caught:
        load(tmp_path, **env)
    assert problem in str(caught.value)


def shape(
    settings: presets.PresetSettings, event: str, index: int = 0, path: str = "/gh", **changes: str
) -> presets.Outcome:
    payload = json.loads(json.dumps(github_examples()[event][index]))
    for key, value in changes.items():
        outer, inner = key.split("__")
        payload[outer][inner] = value
    return presets.shape(json.dumps(payload).encode(), {"x-github-event": event}, path, settings)


def test_filters_keep_only_failed_runs_on_main(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "routes": [
                {
                    "path": "/gh",
                    "only": {
                        "event": ["workflow_run", "workflow_job"],
                        "conclusion": ["failure", "timed_out"],
                        "branch": "main",
                    },
                }
            ]
        },
    )
    failed = shape(settings, "workflow_run", 1, workflow_run__conclusion="failure", workflow_run__head_branch="main")
    assert failed.filtered is None and failed.content is not None and failed.content.startswith("CI failed")
    assert (
        shape(settings, "workflow_run", 1, workflow_run__head_branch="main").filtered == 'matches no "only" condition'
    )
    assert shape(settings, "workflow_run", 1, workflow_run__conclusion="failure").filtered is not None  # on master
    assert shape(settings, "push", 4).filtered is not None
    assert shape(settings, "push", 4, path="/other").filtered is None  # another path, no filters


def test_drop_conditions_and_payload_selectors(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "routes": [
                {
                    "path": "/gh",
                    "drop": [
                        {"event": "workflow_run", "action": ["requested", "in_progress"]},
                        {"$.sender.login": "*[[]bot]"},
                        {"$.pull_request.labels[*].name": "skip-*"},
                    ],
                }
            ]
        },
    )
    assert shape(settings, "workflow_run", 3).filtered == 'matches "drop" condition 1'
    assert shape(settings, "workflow_run", 1).filtered is None
    assert shape(settings, "push", 4, sender__login="dependabot[bot]").filtered == 'matches "drop" condition 2'
    labeled = json.loads(json.dumps(github_examples()["pull_request"][8]))
    labeled["pull_request"]["labels"] = [{"name": "bug"}, {"name": "skip-ci"}]
    outcome = presets.shape(json.dumps(labeled).encode(), {"x-github-event": "pull_request"}, "/gh", settings)
    assert outcome.filtered == 'matches "drop" condition 3'


def test_filters_apply_to_raw_bodies_and_templates_add_meta(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "routes": [
                {"path": "/raw", "drop": {"$.level": "debug"}},
                {
                    "path": "/ci",
                    "template": 'Build {{ status | upper }} on {{ branch }}: {{ commits[*].title | join:"; " }}',
                    "meta": {"status": "status", "branch": "branch"},
                    "only": {"status": "fail*"},
                },
            ]
        },
    )
    assert presets.shape(b'{"level": "debug"}', {}, "/raw", settings).filtered is not None
    kept = presets.shape(b'{"level": "error"}', {}, "/raw", settings)
    assert kept == presets.Outcome(None, {})
    body = b'{"status": "failed", "branch": "main", "commits": [{"title": "a"}, {"title": "b"}]}'
    outcome = presets.shape(body, {}, "/ci", settings)
    assert outcome.content == "Build FAILED on main: a; b" and outcome.filtered is None
    assert outcome.meta == {"preset": "template", "status": "failed", "branch": "main"}
    assert outcome.payload == body and outcome.label == "template"
    assert presets.shape(b'{"status": "ok"}', {}, "/ci", settings).filtered == 'matches no "only" condition'
    text = presets.shape(b"plain text", {}, "/ci", settings)
    assert text.content == "Build  on :" and text.suffix == ".txt" and text.filtered is not None


def test_a_template_route_wins_over_detection(tmp_path: Path) -> None:
    settings = load(tmp_path, WEBHOOK_ROUTES=json.dumps([{"path": "/am", "template": "{{ alerts | count }} alerts"}]))
    outcome = presets.shape(payload_file("alertmanager", "grafana"), {}, "/am", settings)
    assert outcome.content == "2 alerts" and outcome.meta == {"preset": "template"}
