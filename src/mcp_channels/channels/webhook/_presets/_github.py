"""GitHub deliveries (``X-GitHub-Event``) as the line a developer would post in a team chat.

Each event the webhook is usually pointed at has its own wording; any other event gets a generic
line naming the event, action, repository, sender and the title of what it is about. Field names
are GitHub's, as in its webhook documentation and the ``@octokit/webhooks-examples`` payloads.
"""

from __future__ import annotations

from typing import Final

from ._summary import Summarizer, Summary, summarize_with
from ._text import (
    EXCERPT_LIMIT,
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

#: How a check's or a run's conclusion reads after "CI" or a check's name.
CONCLUSION_WORDS: Final = {
    "success": "passed",
    "failure": "failed",
    "cancelled": "cancelled",
    "timed_out": "timed out",
    "action_required": "needs action",
    "neutral": "finished (neutral)",
    "skipped": "skipped",
    "stale": "went stale",
    "startup_failure": "failed to start",
}
#: Commits listed under a push; the rest are counted.
PUSH_COMMITS_SHOWN: Final = 3


def looks_like(event: str, payload: object) -> bool:
    """Whether a body is a GitHub payload: it has the event's own object, or names its sender,
    repository, organization or app (a global ``security_advisory`` has only the first)."""
    return isinstance(payload, dict) and any(
        isinstance(payload.get(key), dict) for key in (event, "sender", "repository", "organization", "installation")
    )


def summarize(event: str, payload: object) -> Summary:
    """The summary of a GitHub delivery whose ``X-GitHub-Event`` is ``event``."""
    return summarize_with(_BY_EVENT, _generic, event, payload)


def _common(event: str, payload: object, **extra: str) -> dict[str, str]:
    """Meta every GitHub event carries, then the event's own fields (which win)."""
    common = {
        "event": event,
        "action": field(payload, "action", limit=60),
        "repo": field(payload, "repository", "full_name"),
        "sender": field(payload, "sender", "login"),
    }
    return meta(**{**common, **extra})


def _conclusion(conclusion: str) -> str:
    return CONCLUSION_WORDS.get(conclusion, f"finished: {conclusion}" if conclusion else "finished")


def _at(branch: str, sha: str) -> str:
    """`` on main at abc1234``, with whichever parts are known."""
    return (f" on {branch}" if branch else "") + (f" at {short_sha(sha)}" if sha else "")


def _push(payload: object) -> Summary:
    ref = field(payload, "ref", limit=200)
    name = branch_of(ref).removeprefix("refs/tags/")
    repo = field(payload, "repository", "full_name")
    pusher = field(payload, "pusher", "name") or field(payload, "sender", "login")
    sha = field(payload, "after", limit=64)
    commits = items(payload, "commits")
    kind = "Tag" if ref.startswith("refs/tags/") else "Branch"
    if dig(payload, "deleted") is True:
        head = f"{kind} {name} deleted in {repo} by {pusher}"
    elif kind == "Tag":
        head = f"Tag {name} pushed to {repo} by {pusher}{_at('', sha)}"
    else:
        created = " (new branch)" if dig(payload, "created") is True else ""
        forced = " (forced)" if dig(payload, "forced") is True else ""
        head = f"Push to {repo} {name} by {pusher}: {plural(len(commits), 'commit')}{created}{forced}"
    lines = [head]
    for commit in commits[:PUSH_COMMITS_SHOWN]:
        author = field(commit, "author", "username", limit=60) or field(commit, "author", "name", limit=60)
        subject = first_line(commit, "message", limit=100)
        lines.append(f"- {short_sha(field(commit, 'id', limit=64))} {subject}" + (f" ({author})" if author else ""))
    if len(commits) > PUSH_COMMITS_SHOWN:
        lines.append(f"- … and {len(commits) - PUSH_COMMITS_SHOWN} more")
    extra = {
        "ref": ref,
        "branch" if kind == "Branch" else "tag": name,
        "sha": sha,
        "url": field(payload, "compare", limit=300),
    }
    if dig(payload, "forced") is True:
        extra["forced"] = "true"
    return Summary(content(lines), _common("push", payload, commits=str(len(commits)), **extra))


#: Actions on an issue or a pull request that name what or whom: the verb, and where the name is.
_NAMED_CHANGES: Final = {
    "labeled": ("labeled", ("label", "name")),
    "unlabeled": ("unlabeled", ("label", "name")),
    "assigned": ("assigned to", ("assignee", "login")),
    "unassigned": ("unassigned from", ("assignee", "login")),
    "review_requested": ("review requested from", ("requested_reviewer", "login")),
    "review_request_removed": ("review request removed for", ("requested_reviewer", "login")),
    "milestoned": ("added to milestone", ("milestone", "title")),
    "demilestoned": ("removed from milestone", ("milestone", "title")),
}
_PLAIN_CHANGES: Final = {"synchronize": "updated with new commits", "ready_for_review": "marked ready for review"}


def _change(payload: object, subject: object) -> str:
    """What happened to an issue or a pull request, as a verb phrase (``labeled bug``)."""
    action = field(payload, "action", limit=60)
    if action == "closed" and isinstance(dig(subject, "merged"), bool):
        return "merged" if dig(subject, "merged") is True else "closed without merging"
    if action == "closed":
        reason = field(subject, "state_reason", limit=40).replace("_", " ")
        return f"closed as {reason}" if reason else "closed"
    named = _NAMED_CHANGES.get(action)
    if named is None:
        return _PLAIN_CHANGES.get(action, action.replace("_", " "))
    verb, path = named
    whom = field(payload, *path, limit=60) or field(subject, *path, limit=60)
    return f"{verb} {whom or field(payload, 'requested_team', 'name', limit=60)}".strip()


def _pr_shape(pr: object) -> str:
    """``: main ← fix/login, 3 commits, +40 −12`` from what the payload says."""
    parts = []
    base, head = field(pr, "base", "ref", limit=80), field(pr, "head", "ref", limit=80)
    if base or head:
        parts.append(f"{base} ← {head}")
    commits, added, removed = number(pr, "commits"), number(pr, "additions"), number(pr, "deletions")
    if commits is not None:
        parts.append(plural(commits, "commit"))
    if added is not None and removed is not None:
        parts.append(f"+{added:,} −{removed:,}")
    return ": " + ", ".join(parts) if parts else ""


def _pull_request(payload: object) -> Summary:
    pr = dig(payload, "pull_request")
    num = scalar(dig(pr, "number")) or scalar(dig(payload, "number"))
    action = field(payload, "action", limit=60)
    draft = " (draft)" if dig(pr, "draft") is True else ""
    head = f"PR #{num} *{field(pr, 'title')}*{draft} {_change(payload, pr)} by {field(payload, 'sender', 'login')}"
    if action in ("opened", "reopened", "ready_for_review", "synchronize", "closed"):
        head += _pr_shape(pr)
    lines = [head]
    if action == "opened":
        lines.append(quoted(first_line(pr, "body")).strip())
    extra = meta(
        number=num,
        branch=field(pr, "base", "ref", limit=200),
        head=field(pr, "head", "ref", limit=200),
        sha=field(pr, "head", "sha", limit=64),
        url=field(pr, "html_url", limit=300),
        merged="true" if dig(pr, "merged") is True else "",
    )
    return Summary(content(lines), _common("pull_request", payload, **extra))


def _pr_ref(payload: object) -> tuple[str, str]:
    """``PR #12 *Fix login*`` for events about something on a pull request, and its number."""
    pr = dig(payload, "pull_request")
    num = scalar(dig(pr, "number"))
    return f"PR #{num} *{field(pr, 'title')}*", num


def _pull_request_review(payload: object) -> Summary:
    review = dig(payload, "review")
    reviewer = field(review, "user", "login", limit=60)
    state = field(review, "state", limit=40).lower()
    action = field(payload, "action", limit=60)
    pr, num = _pr_ref(payload)
    if action == "submitted":
        verb = {"approved": "approved", "changes_requested": "requested changes on"}.get(state, "reviewed")
        lines = [f"{reviewer} {verb} {pr}" + _said(first_line(review, "body"))]
    else:
        lines = [f"Review by {reviewer} on {pr} {action} by {field(payload, 'sender', 'login')}"]
    extra = meta(number=num, state=state, url=field(review, "html_url", limit=300))
    return Summary(content(lines), _common("pull_request_review", payload, **extra))


def _said(excerpt: str) -> str:
    """``: "the words"`` after a line about someone's comment, or nothing for an empty one."""
    return f": {quoted(excerpt).strip()}" if excerpt else ""


def _pull_request_review_comment(payload: object) -> Summary:
    comment = dig(payload, "comment")
    who = field(comment, "user", "login", limit=60)
    pr, num = _pr_ref(payload)
    action = field(payload, "action", limit=60)
    path = field(comment, "path", limit=120)
    line = scalar(dig(comment, "line")) or scalar(dig(comment, "original_line"))
    where = f" at {path}:{line}" if path and line else (f" at {path}" if path else "")
    if action == "created":
        text = f"{who} commented on {pr}{where}" + _said(first_line(comment, "body"))
    else:
        text = f"Comment by {who} on {pr}{where} {action}"
    extra = meta(number=num, url=field(comment, "html_url", limit=300))
    return Summary(content([text]), _common("pull_request_review_comment", payload, **extra))


def _issues(payload: object) -> Summary:
    issue = dig(payload, "issue")
    num = scalar(dig(issue, "number"))
    change = _change(payload, issue)
    lines = [f"Issue #{num} *{field(issue, 'title')}* {change} by {field(payload, 'sender', 'login')}"]
    if field(payload, "action", limit=60) == "opened":
        lines.append(quoted(first_line(issue, "body")).strip())
    extra = meta(number=num, state=field(issue, "state", limit=40), url=field(issue, "html_url", limit=300))
    return Summary(content(lines), _common("issues", payload, **extra))


def _issue_comment(payload: object) -> Summary:
    issue, comment = dig(payload, "issue"), dig(payload, "comment")
    on = "PR" if isinstance(dig(issue, "pull_request"), dict) else "issue"
    num = scalar(dig(issue, "number"))
    who = field(comment, "user", "login", limit=60)
    target = f"{on} #{num} *{field(issue, 'title')}*"
    action = field(payload, "action", limit=60)
    if action == "created":
        text = f"{who} commented on {target}" + _said(first_line(comment, "body", limit=EXCERPT_LIMIT))
    else:
        text = f"Comment by {who} on {target} {action}"
    extra = meta(number=num, url=field(comment, "html_url", limit=300) or field(issue, "html_url", limit=300))
    return Summary(content([text]), _common("issue_comment", payload, **extra))


def _ci_state(action: str, conclusion: str) -> str:
    """``CI failed``, ``CI passed``, or where a run is for events before completion."""
    if action == "completed" or conclusion:
        return f"CI {_conclusion(conclusion)}"
    return {"requested": "CI started", "in_progress": "CI running", "queued": "CI queued"}.get(
        action, f"CI {action.replace('_', ' ')}"
    )


def _ci_meta(subject: object, branch: str, sha: str) -> dict[str, str]:
    """The fields CI filters use (``branch``, ``conclusion``, ...) of a run, a job or a check."""
    return meta(
        branch=branch,
        sha=sha,
        status=field(subject, "status", limit=40),
        conclusion=field(subject, "conclusion", limit=40),
        url=field(subject, "html_url", limit=300),
    )


def _workflow_run(payload: object) -> Summary:
    run = dig(payload, "workflow_run")
    name = field(run, "name") or field(payload, "workflow", "name")
    branch, sha = field(run, "head_branch", limit=200), field(run, "head_sha", limit=64)
    conclusion = field(run, "conclusion", limit=40)
    action = field(payload, "action", limit=60)
    trigger = field(run, "event", limit=40)
    actor = field(run, "triggering_actor", "login", limit=60) or field(run, "actor", "login", limit=60)
    details = [f"run #{scalar(dig(run, 'run_number'))}" if scalar(dig(run, "run_number")) else ""]
    details.append(" by ".join(part for part in (trigger, actor) if part))
    prs = [scalar(dig(pr, "number")) for pr in items(run, "pull_requests")[:3]]
    details.append(", ".join(f"PR #{n}" for n in prs if n))
    detail = ", ".join(part for part in details if part)
    text = f"{_ci_state(action, conclusion)}: workflow *{name}*{_at(branch, sha)}" + (f" ({detail})" if detail else "")
    return Summary(content([text]), _common("workflow_run", payload, workflow=name, **_ci_meta(run, branch, sha)))


def _workflow_job(payload: object) -> Summary:
    job = dig(payload, "workflow_job")
    name, workflow = field(job, "name"), field(job, "workflow_name")
    branch, sha = field(job, "head_branch", limit=200), field(job, "head_sha", limit=64)
    conclusion = field(job, "conclusion", limit=40)
    action = field(payload, "action", limit=60)
    text = f"{_ci_state(action, conclusion)}: job *{name}*"
    text += (f" in workflow *{workflow}*" if workflow else "") + _at(branch, sha)
    failed = next((step for step in items(job, "steps") if field(step, "conclusion", limit=40) == "failure"), None)
    if failed is not None:
        text += f", step *{field(failed, 'name')}*"
    runner = field(job, "runner_name", limit=80)
    if runner and action == "in_progress":
        text += f" (runner {runner})"
    extra = _ci_meta(job, branch, sha)
    return Summary(content([text]), _common("workflow_job", payload, job=name, workflow=workflow, **extra))


def _check_run(payload: object) -> Summary:
    check = dig(payload, "check_run")
    name, app = field(check, "name"), field(check, "app", "name", limit=60)
    sha = field(check, "head_sha", limit=64)
    branch = field(check, "check_suite", "head_branch", limit=200)
    conclusion = field(check, "conclusion", limit=40)
    action = field(payload, "action", limit=60)
    if action == "completed":
        state = _conclusion(conclusion)
    elif action == "requested_action":
        state = f"action *{field(payload, 'requested_action', 'identifier', limit=60)}* requested by {field(payload, 'sender', 'login')}"
    elif action == "rerequested":
        state = f"re-run requested by {field(payload, 'sender', 'login')}"
    else:
        state = f"{action} ({field(check, 'status', limit=40)})"
    lines = [f"Check *{name}* {state}{_at(branch, sha)}" + (f" ({app})" if app else "")]
    summary = " — ".join(p for p in (field(check, "output", "title"), first_line(check, "output", "summary")) if p)
    lines.append(summary)
    return Summary(content(lines), _common("check_run", payload, check=name, **_ci_meta(check, branch, sha)))


def _check_suite(payload: object) -> Summary:
    suite = dig(payload, "check_suite")
    app = field(suite, "app", "name", limit=60)
    branch, sha = field(suite, "head_branch", limit=200), field(suite, "head_sha", limit=64)
    conclusion = field(suite, "conclusion", limit=40)
    action = field(payload, "action", limit=60)
    state = _conclusion(conclusion) if action == "completed" else action.replace("_", " ")
    text = f"Check suite {state}{_at(branch, sha)}" + (f" ({app})" if app else "")
    extra = meta(branch=branch, sha=sha, status=field(suite, "status", limit=40), conclusion=conclusion)
    return Summary(content([text]), _common("check_suite", payload, **extra))


def _release(payload: object) -> Summary:
    release = dig(payload, "release")
    tag, name = field(release, "tag_name", limit=100), field(release, "name")
    title = f"*{name}* ({tag})" if name and name != tag else f"*{tag or name}*"
    kind = "Pre-release" if dig(release, "prerelease") is True else "Release"
    draft = " (draft)" if dig(release, "draft") is True else ""
    lines = [f"{kind} {title}{draft} {field(payload, 'action', limit=60)} by {field(payload, 'sender', 'login')}"]
    lines.append(quoted(first_line(release, "body")).strip())
    extra = meta(tag=tag, url=field(release, "html_url", limit=300))
    return Summary(content(lines), _common("release", payload, **extra))


def _deployment_status(payload: object) -> Summary:
    status, deployment = dig(payload, "deployment_status"), dig(payload, "deployment")
    environment = field(status, "environment", limit=80) or field(deployment, "environment", limit=80)
    state = field(status, "state", limit=40)
    ref, sha = field(deployment, "ref", limit=200), field(deployment, "sha", limit=64)
    creator = field(status, "creator", "login", limit=60) or field(payload, "sender", "login")
    where = f" for {ref}" if ref and ref != sha else ""
    lines = [
        f"Deployment to {environment}: {state}{where}" + (f" at {short_sha(sha)}" if sha else "") + f" by {creator}"
    ]
    lines.append(field(status, "description", limit=EXCERPT_LIMIT))
    url = field(status, "target_url", limit=300) or field(status, "log_url", limit=300)
    extra = meta(
        environment=environment, state=state, ref=ref, sha=sha, url=url or field(status, "environment_url", limit=300)
    )
    return Summary(content(lines), _common("deployment_status", payload, **extra))


def _ping(payload: object) -> Summary:
    target = field(payload, "repository", "full_name") or field(payload, "organization", "login")
    text = f"GitHub webhook {scalar(dig(payload, 'hook_id'))} set up" + (f" for {target}" if target else "")
    text += _said(field(payload, "zen", limit=EXCERPT_LIMIT))
    return Summary(content([text]), _common("ping", payload))


#: Objects whose title or name says what an event we have no wording for is about.
_SUBJECTS: Final = (
    "pull_request", "issue", "discussion", "release", "check_run", "workflow_run", "workflow_job",
    "deployment", "alert", "package", "project", "milestone", "label", "team", "comment",
)  # fmt: skip


def _generic(event: str, payload: object) -> Summary:
    action = field(payload, "action", limit=60)
    repo = field(payload, "repository", "full_name") or field(payload, "organization", "login")
    head = f"GitHub {event}" + (f" {action}" if action else "") + (f" on {repo}" if repo else "")
    sender = field(payload, "sender", "login")
    lines = [head + (f" by {sender}" if sender else "")]
    subject = next((dig(payload, key) for key in _SUBJECTS if isinstance(dig(payload, key), dict)), None)
    title = field(subject, "title") or field(subject, "name")
    num = scalar(dig(subject, "number"))
    if title:
        lines.append((f"#{num} " if num else "") + f"*{title}*")
    url = field(subject, "html_url", limit=300) or field(payload, "repository", "html_url", limit=300)
    return Summary(content(lines), _common(event, payload, number=num, url=url))


_BY_EVENT: Final[dict[str, Summarizer]] = {
    "push": _push,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "pull_request_review_comment": _pull_request_review_comment,
    "issues": _issues,
    "issue_comment": _issue_comment,
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "release": _release,
    "deployment_status": _deployment_status,
    "ping": _ping,
}
