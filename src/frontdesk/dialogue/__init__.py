"""Dialogue state and forms: what a conversation is doing, beyond the current message.

Public API (pure functions and frozen dataclasses; no I/O, no database):

- `DialogueState`, `Frame`, `SlotValue` (`frontdesk.dialogue.state`): the state of one
  conversation: the active task (`Frame`: intent, form, slots, requested_slot, attempts),
  the paused tasks, and every slot filled so far. `DialogueState.from_json(data)` /
  `.to_json()` read and write the stored shape (`conversations.dialogue_state`).
- `Understood(text, intent, confidence, out_of_scope, entities, turn_id)`: one message as
  the NLU read it (`entities` are `frontdesk.types.Entity`).
- `track(state, message, forms) -> Tracked`: before the decision. A short answer to the
  pending question fills the slot asked for (extraction biased to that slot: its entity,
  else a token matching its pattern, a bare number for a float, yes/no for a bool, the text
  for from_text); a confident other intent (`forms.switch_confidence`) pauses the task;
  "no, it's ..." replaces a slot (just after a task finished, it runs that task again with
  the new value: `DialogueState.last`); an answer that fills nothing counts a failed attempt.
  `Tracked.state`, `.event` (none | fill | correct | switch | failed_attempt | continue),
  `.intent` (the task the message continues, or None), `.filled`, `.refused`,
  `.task_slots`.
- `reject(before, tracked, slot, message=None) -> Tracked`: undo a value a lookup refused
  (`validation.tool`); when it answered the pending question it counts a failed attempt.
- `form_step(forms, form, slots, attempts) -> ("ask" | "complete" | "give_up", slot)`:
  what a form needs next.
- `settle(state, forms, *, intent, form, asked, handoff=False, answered=True, prefill=None)
  -> Settled`: after the decision: the form the rules ran asks `asked` or is complete; a
  finished task lets the most recent paused one resume (`Settled.resumed`) and is kept as
  `state.last`; a hand-off ends them all.
- `from_profile(forms, form, facts, have) -> values`: the form's slots the customer's
  profile knows and the conversation has not given (validated), for `settle`'s `prefill`.
- `slot_values(message, forms, form, requested=None) -> (values, refused)`: the validated
  slot values a message carries.

Forms themselves are declared in the workspace's forms.yml (schema:
`frontdesk.config.forms.FormsConfig`, loaded by `frontdesk.config.workspace.load_forms`).
"""

from frontdesk.dialogue.state import DialogueState, Frame, SlotValue
from frontdesk.dialogue.tracker import (
    Settled,
    Tracked,
    Understood,
    form_step,
    from_profile,
    reject,
    settle,
    slot_values,
    track,
)

__all__ = [
    "DialogueState",
    "Frame",
    "Settled",
    "SlotValue",
    "Tracked",
    "Understood",
    "form_step",
    "from_profile",
    "reject",
    "settle",
    "slot_values",
    "track",
]
