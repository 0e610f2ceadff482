"""What activities, triggers and server actions exist, and which go together (SPEC §3).

One table that validation, campaign files, the executor and the designer all read, so the
rules cannot drift apart.
"""

from __future__ import annotations

ACTIVITY_TYPES = ("email", "sms", "server_action")

# The key of the content object in campaign files, per activity type.
CONTENT_KEY = {"email": "email", "sms": "sms", "server_action": "action"}

# trigger -> parent types it accepts (None: no parent allowed).
TRIGGER_PARENTS: dict[str, tuple[str, ...] | None] = {
    "begin": None,
    "activity": ACTIVITY_TYPES,
    "mail_open": ("email",),
    "mail_not_open": ("email",),
    "mail_click": ("email",),
    "mail_not_click": ("email",),
    "mail_reply": ("email",),
    "mail_not_reply": ("email",),
    "mail_bounce": ("email",),
    "sms_click": ("sms",),
    "sms_not_click": ("sms",),
    "sms_bounce": ("sms",),
}
TRIGGERS = tuple(TRIGGER_PARENTS)

# Children created waiting (no due time) until the interaction happens.
EVENT_TRIGGERS = {
    "mail_open": "open",
    "mail_click": "click",
    "mail_reply": "reply",
    "mail_bounce": "bounce",
    "sms_click": "sms_click",
    "sms_bounce": "sms_bounce",
}
# "not" children: due at parent processed + delay unless the interaction came first.
NOT_TRIGGERS = {
    "mail_not_open": "open",
    "mail_not_click": "click",
    "mail_not_reply": "reply",
    "sms_not_click": "sms_click",
}

INTERACTIONS = ("open", "click", "reply", "bounce", "sms_click", "sms_bounce")
# Interaction -> the message type it can happen on.
INTERACTION_CHANNEL = {
    "open": "email",
    "click": "email",
    "reply": "email",
    "bounce": "email",
    "sms_click": "sms",
    "sms_bounce": "sms",
}
# Trace column holding the first time of each interaction.
INTERACTION_COLUMN = {
    "open": "opened_at",
    "click": "clicked_at",
    "reply": "replied_at",
    "bounce": "bounced_at",
    "sms_click": "clicked_at",
    "sms_bounce": "bounced_at",
}
# The words used in cancellation messages.
INTERACTION_WORD = {
    "open": "opened",
    "click": "clicked",
    "reply": "replied",
    "bounce": "bounced",
    "sms_click": "clicked",
    "sms_bounce": "bounced",
}
INTERACTION_NOUN = {
    "open": "open",
    "click": "click",
    "reply": "reply",
    "bounce": "bounce",
    "sms_click": "click",
    "sms_bounce": "bounce",
}

TRIGGER_WORDS = {
    "begin": "at the beginning of the workflow",
    "activity": "after the parent activity",
    "mail_open": "opened",
    "mail_not_open": "not opened",
    "mail_click": "clicked",
    "mail_not_click": "not clicked",
    "mail_reply": "replied",
    "mail_not_reply": "not replied",
    "mail_bounce": "bounced",
    "sms_click": "SMS clicked",
    "sms_not_click": "SMS not clicked",
    "sms_bounce": "SMS bounced",
}

ACTION_KINDS = (
    "update_record",
    "create_record",
    "create_activity",
    "send_email",
    "send_sms",
    "add_followers",
    "remove_followers",
    "execute_code",
    "webhook",
    "run_actions",
)
# Actions that can run code or send data away: imported disabled until trusted.
UNTRUSTED_KINDS = ("execute_code", "webhook")

TASK_KINDS = ("todo", "call", "email", "meeting")

CAMPAIGN_STATES = ("draft", "running", "stopped")
PARTICIPANT_STATES = ("running", "completed", "removed")
TRACE_STATES = ("scheduled", "processed", "rejected", "canceled", "error")


def valid_parent_types(trigger: str) -> tuple[str, ...] | None:
    return TRIGGER_PARENTS.get(trigger)


def triggers_for_parent(parent_type: str | None) -> list[str]:
    """The triggers a child of ``parent_type`` may use (``None``: a root activity)."""
    if parent_type is None:
        return ["begin"]
    return [t for t, parents in TRIGGER_PARENTS.items() if parents and parent_type in parents]
