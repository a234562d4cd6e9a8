"""What a feature module declares, as data: ``FEATURE = Feature(...)`` at its end.

A feature names its chat commands (:class:`~bot.flows.commands.Command`), its flow if it
asks questions over several messages (the flow's name, as stored with the chat, and its
steps), its global actions (buttons that stay valid whatever the chat does next,
``g:<name>:<data>``) and the file of its Vietnamese texts. ``bot.flows.registry`` lists the
features and builds the tables the engine routes by.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.domain.messages import Reply
from bot.flows.commands import Command
from bot.flows.context import Context

ChoiceHandler = Callable[[Context, str], Awaitable[list[Reply]]]
TextHandler = Callable[[Context, str], Awaitable[list[Reply] | None]]
PromptHandler = Callable[[Context], Awaitable[Reply | None]]
GlobalAction = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Flow:
    """Questions over several messages; the chat stores ``name`` and the pending step."""

    name: str
    steps: tuple[str, ...]
    on_choice: ChoiceHandler  # a button of the pending step, or its key typed
    on_text: TextHandler  # a typed answer; None when the line is not one (the engine decides)
    prompt: PromptHandler  # the pending step's question again; None when its data is gone


@dataclass(frozen=True)
class Feature:
    name: str
    texts: str  # its text file, relative to the content directory: "texts/report.yaml"
    commands: tuple[Command, ...] = ()
    flow: Flow | None = None
    global_actions: Mapping[str, GlobalAction] = field(default_factory=dict)
