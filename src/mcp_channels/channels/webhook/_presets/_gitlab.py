"""GitLab deliveries (``X-Gitlab-Event``), keyed by the payload's ``object_kind``.

Field names are those of GitLab's "Webhook events" documentation. GitLab's wording differs from
GitHub's (merge requests are ``!1``, actions are ``open``/``merge``), and the summaries follow it.
"""

from __future__ import annotations

from typing import Final

from ._summary import Summarizer, Summary, summarize_with
from ._text import (
    branch_of,
    content,
    dig,
    field,
    first_line,
    items,
    meta,
    number,
    plural,
    quoted,
    scalar,
    short_sha,
)

#: ``X-Gitlab-Event`` header → ``object_kind``, for a payload that lacks the latter.
HEADER_KINDS: Final = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Issue Hook": "issue",
    "Confidential Issue Hook": "issue",
    "Note Hook": "note",
    "Confidential Note Hook": "note",
    "Merge Request Hook": "merge_request",
    "Pipeline Hook": "pipeline",
    "Job Hook": "build",
    "Deployment Hook": "deployment",
    "Release Hook": "release",
}
#: GitLab's action words as a sentence reads them.
ACTION_WORDS: Final = {
    "open": "opened",
    "close": "closed",
    "reopen": "reopened",
    "update": "updated",
    "merge": "merged",
    "approved": "approved",
    "unapproved": "unapproved",
    "approval": "approved by one reviewer",
    "unapproval": "approval removed",
    "create": "created",
    "delete": "deleted",
}
COMMITS_SHOWN: Final = 3


def looks_like(kind: str, payload: object) -> bool:
    """Whether a body is a GitLab payload: it names its kind (``object_kind`` or ``event_name``)."""
    return isinstance(payload, dict) and any(isinstance(payload.get(key), str) for key in ("object_kind", "event_name"))


def kind_of(header: str, payload: object) -> str:
    """The event's kind: the payload's ``object_kind``, else the one its header names."""
    return field(payload, "object_kind", limit=60) or HEADER_KINDS.get(header, header.lower().replace(" ", "_"))


def summarize(kind: str, payload: object) -> Summary:
    """The summary of a GitLab delivery of ``kind`` (its ``object_kind``)."""
    return summarize_with(_BY_KIND, _generic, kind, payload)


def _project(payload: object) -> str:
    return field(payload, "project", "path_with_namespace") or field(payload, "project", "name")


def _user(payload: object) -> str:
    return field(payload, "user", "name", limit=60) or field(payload, "user_name", limit=60)


def _common(kind: str, payload: object, **extra: str) -> dict[str, str]:
    """Meta every GitLab event carries, then the event's own fields (which win)."""
    sender = field(payload, "user", "username", limit=60) or field(payload, "user_username", limit=60)
    return meta(**{"event": kind, "repo": _project(payload), "sender": sender, **extra})


def _push(payload: object) -> Summary:
    ref = field(payload, "ref", limit=200)
    name = branch_of(ref).removeprefix("refs/tags/")
    who = _user(payload)
    total = number(payload, "total_commits_count")
    commits = items(payload, "commits")
    count = total if total is not None else len(commits)
    if field(payload, "object_kind", limit=60) == "tag_push":
        lines = [f"Tag {name} pushed to {_project(payload)} by {who}"]
    else:
        lines = [f"Push to {_project(payload)} {name} by {who}: {plural(count, 'commit')}"]
    for commit in commits[:COMMITS_SHOWN]:
        author = field(commit, "author", "name", limit=60)
        subject = field(commit, "title", limit=100) or first_line(commit, "message", limit=100)
        lines.append(f"- {short_sha(field(commit, 'id', limit=64))} {subject}" + (f" ({author})" if author else ""))
    if count > COMMITS_SHOWN and commits:
        lines.append(f"- … and {count - min(len(commits), COMMITS_SHOWN)} more")
    sha = field(payload, "checkout_sha", limit=64) or field(payload, "after", limit=64)
    extra = meta(ref=ref, branch=name, sha=sha, commits=str(count))
    return Summary(content(lines), _common(field(payload, "object_kind", limit=60) or "push", payload, **extra))


def _merge_request(payload: object) -> Summary:
    mr = dig(payload, "object_attributes")
    action = field(mr, "action", limit=40)
    verb = ACTION_WORDS.get(action, action or field(mr, "state", limit=40))
    draft = " (draft)" if dig(mr, "draft") is True else ""
    iid = scalar(dig(mr, "iid"))
    target, source = field(mr, "target_branch", limit=80), field(mr, "source_branch", limit=80)
    text = f"MR !{iid} *{field(mr, 'title')}*{draft} {verb} by {_user(payload)}"
    if target or source:
        text += f": {target} ← {source}"
    lines = [text]
    if action == "open":
        lines.append(quoted(first_line(mr, "description")).strip())
    extra = meta(
        action=action,
        number=iid,
        branch=target,
        head=source,
        sha=field(mr, "last_commit", "id", limit=64),
        state=field(mr, "state", limit=40),
        url=field(mr, "url", limit=300),
    )
    return Summary(content(lines), _common("merge_request", payload, **extra))


def _pipeline(payload: object) -> Summary:
    pipeline = dig(payload, "object_attributes")
    status = field(pipeline, "status", limit=40)
    ref, sha = field(pipeline, "ref", limit=200), field(pipeline, "sha", limit=64)
    state = {"success": "CI passed", "failed": "CI failed", "canceled": "CI cancelled", "running": "CI running"}.get(
        status, f"CI {status}"
    )
    name = field(pipeline, "name")
    text = f"{state}: pipeline #{scalar(dig(pipeline, 'iid')) or scalar(dig(pipeline, 'id'))}"
    text += (
        (f" *{name}*" if name else "") + f" in {_project(payload)} on {ref}" + (f" at {short_sha(sha)}" if sha else "")
    )
    failed = [
        f"*{field(build, 'name', limit=60)}*"
        + (f" ({reason})" if (reason := field(build, "failure_reason", limit=60)) else "")
        for build in items(payload, "builds")
        if field(build, "status", limit=40) == "failed"
    ]
    if failed:
        text += f", failed job{'s' if len(failed) > 1 else ''} " + ", ".join(failed[:3])
    mr_iid = scalar(dig(payload, "merge_request", "iid"))
    if mr_iid:
        text += f" (MR !{mr_iid})"
    extra = meta(branch=ref, ref=ref, sha=sha, status=status, url=field(pipeline, "url", limit=300))
    return Summary(content([text]), _common("pipeline", payload, **extra))


def _issue(payload: object) -> Summary:
    issue = dig(payload, "object_attributes")
    action = field(issue, "action", limit=40)
    verb = ACTION_WORDS.get(action, action or field(issue, "state", limit=40))
    iid = scalar(dig(issue, "iid"))
    lines = [f"Issue #{iid} *{field(issue, 'title')}* {verb} by {_user(payload)}"]
    if action == "open":
        lines.append(quoted(first_line(issue, "description")).strip())
    extra = meta(action=action, number=iid, state=field(issue, "state", limit=40), url=field(issue, "url", limit=300))
    return Summary(content(lines), _common(field(payload, "object_kind", limit=60) or "issue", payload, **extra))


def _note_target(payload: object) -> str:
    """What a comment is on: ``MR !1 *title*``, ``issue #17 *title*``, ``commit cfe32cf``."""
    kind = field(payload, "object_attributes", "noteable_type", limit=40)
    if kind == "MergeRequest":
        return f"MR !{scalar(dig(payload, 'merge_request', 'iid'))} *{field(payload, 'merge_request', 'title')}*"
    if kind == "Issue":
        return f"issue #{scalar(dig(payload, 'issue', 'iid'))} *{field(payload, 'issue', 'title')}*"
    if kind == "Commit":
        return f"commit {short_sha(field(payload, 'commit', 'id', limit=64))}"
    if kind == "Snippet":
        return f"snippet *{field(payload, 'snippet', 'title')}*"
    return kind or "something"


def _note(payload: object) -> Summary:
    note = dig(payload, "object_attributes")
    action = field(note, "action", limit=40)
    verb = "edited a comment on" if action == "update" else "commented on"
    excerpt = first_line(note, "note")
    text = f"{_user(payload)} {verb} {_note_target(payload)} in {_project(payload)}"
    text += f": {quoted(excerpt).strip()}" if excerpt else ""
    extra = meta(
        action=action,
        target=field(note, "noteable_type", limit=40),
        url=field(note, "url", limit=300),
    )
    return Summary(content([text]), _common("note", payload, **extra))


def _generic(kind: str, payload: object) -> Summary:
    attributes = dig(payload, "object_attributes")
    action = field(attributes, "action", limit=40) or field(payload, "action", limit=40)
    project = _project(payload)
    who = _user(payload)
    head = f"GitLab {kind}" + (f" {action}" if action else "") + (f" in {project}" if project else "")
    lines = [head + (f" by {who}" if who else "")]
    title = field(attributes, "title") or field(attributes, "name") or field(payload, "name")
    if title:
        lines.append(f"*{title}*")
    url = (
        field(attributes, "url", limit=300) or field(payload, "url", limit=300) or field(payload, "project", "web_url")
    )
    status = field(payload, "status", limit=40) or field(payload, "build_status", limit=40)
    return Summary(content(lines), _common(kind, payload, action=action, status=status, url=url))


_BY_KIND: Final[dict[str, Summarizer]] = {
    "push": _push,
    "tag_push": _push,
    "merge_request": _merge_request,
    "pipeline": _pipeline,
    "issue": _issue,
    "work_item": _issue,
    "note": _note,
}
