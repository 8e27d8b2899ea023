"""Reactions by name, as Slack wants them: ``reactions.add`` takes ``eyes``, not 👀.

Claude (and ``ackReaction`` in ``access.json``) may give an emoji character, ``:name:`` or a bare
name; a name is passed through (custom emoji are names too), a character is looked up in this
table of common ones. Anything else is refused with the way to name it.
"""

from __future__ import annotations

import re
from typing import Final

_NAME: Final = re.compile(r"[a-z0-9_+'-]+(?:::skin-tone-[2-6])?")

#: Common emoji and Slack's names for them (Slack's set follows the Unicode CLDR short names).
NAMES: Final = {
    "👍": "+1", "👎": "-1", "❤": "heart", "🔥": "fire", "👀": "eyes", "🎉": "tada", "🙏": "pray",
    "👌": "ok_hand", "✅": "white_check_mark", "❌": "x", "✔": "heavy_check_mark", "☑": "ballot_box_with_check",
    "😁": "grin", "😀": "grinning", "😄": "smile", "😂": "joy", "🤣": "rolling_on_the_floor_laughing",
    "🙂": "slightly_smiling_face", "😊": "blush", "😉": "wink", "😅": "sweat_smile", "😎": "sunglasses",
    "🤔": "thinking_face", "🤯": "exploding_head", "😢": "cry", "😭": "sob", "😮": "open_mouth",
    "😱": "scream", "😬": "grimacing", "🙈": "see_no_evil", "🥳": "partying_face", "🤷": "shrug",
    "💯": "100", "🏆": "trophy", "🤝": "handshake", "✍": "writing_hand", "👏": "clap", "🙌": "raised_hands",
    "💪": "muscle", "👋": "wave", "🚀": "rocket", "⭐": "star", "✨": "sparkles", "💡": "bulb", "🐛": "bug",
    "🔧": "wrench", "📝": "memo", "📌": "pushpin", "🎯": "dart", "⏳": "hourglass_flowing_sand",
    "⌛": "hourglass", "⚠": "warning", "❓": "question", "❗": "exclamation", "💥": "boom", "⚡": "zap",
    "🤖": "robot_face", "🟢": "large_green_circle", "🔴": "red_circle", "🟡": "large_yellow_circle",
    "🆗": "ok", "👁": "eye", "🧐": "face_with_monocle", "🫡": "saluting_face", "💬": "speech_balloon",
    "📎": "paperclip", "🔍": "mag", "🛠": "hammer_and_wrench", "🧪": "test_tube", "📦": "package",
}  # fmt: skip
_VARIATION_SELECTOR: Final = "\ufe0f"


def reaction_name(emoji: str) -> str | None:
    """Slack's name for ``emoji`` (a character, ``:name:`` or a name), or ``None`` when it has none here."""
    wanted = emoji.strip()
    name = wanted[1:-1] if len(wanted) > 2 and wanted.startswith(":") and wanted.endswith(":") else wanted
    if _NAME.fullmatch(name):
        return name
    return NAMES.get(wanted.replace(_VARIATION_SELECTOR, ""))
