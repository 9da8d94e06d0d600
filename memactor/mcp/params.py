"""The tool arguments' types: what each means and its bounds, as the JSON schema a model is shown.

Bounds are far below memactor's own limits: a language model that sends a 1 MB "task" or 10,000 tags is
confused, and a tool error that states the bound helps it more than a stored record would.
"""

from typing import Annotated, Literal

from pydantic import Field

__all__ = [
    "AgentFilter",
    "ID_PATTERN",
    "Code",
    "Confidence",
    "Description",
    "EpisodeIds",
    "FactText",
    "Importance",
    "Kinds",
    "Limit20",
    "Limit50",
    "MemoryId",
    "Name",
    "NewConfidence",
    "NewTags",
    "OptionalText",
    "Outcome",
    "Query",
    "SkillRef",
    "Steps",
    "Success",
    "Tags",
    "TaskText",
    "TimeBound",
    "Version",
    "Worked",
]

ID_PATTERN = r"^[A-Za-z0-9_.:@/+=-]{1,128}$"
MAX_TEXT = 20_000
MAX_CODE = 100_000

_Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]
_Tag = Annotated[str, Field(min_length=1, max_length=64)]
_Step = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]

MemoryId = Annotated[str, Field(description="The memory's id, as another tool returned it", pattern=ID_PATTERN)]
TaskText = Annotated[str, Field(description="What the agent set out to do", min_length=1, max_length=MAX_TEXT)]
FactText = Annotated[
    str, Field(description="The fact or lesson, in one or a few sentences", min_length=1, max_length=MAX_TEXT)
]
Steps = Annotated[tuple[_Step, ...], Field(description="The actions taken, in order", max_length=100)]
Outcome = Annotated[str, Field(description="What came of it", max_length=MAX_TEXT)]
Importance = Annotated[
    float, Field(description="How much this should weigh in recall, 0 to 1", ge=0.0, le=1.0, allow_inf_nan=False)
]
Confidence = Annotated[
    float, Field(description="How sure you are that it holds, 0 to 1", ge=0.0, le=1.0, allow_inf_nan=False)
]
Tags = Annotated[tuple[_Tag, ...], Field(description="Labels to filter by later", max_length=20)]
EpisodeIds = Annotated[tuple[_Id, ...], Field(description="Ids of the episodes this was learned from", max_length=50)]
Name = Annotated[str, Field(description="The skill's name, unique in this memory", min_length=1, max_length=200)]
Description = Annotated[str, Field(description="What it does and when to use it", max_length=MAX_TEXT)]
Code = Annotated[str, Field(description="Source code, if the skill has any", max_length=MAX_CODE)]
Query = Annotated[str, Field(description="Words to search for; any of them may match", min_length=1, max_length=2000)]
Kinds = Annotated[
    tuple[Literal["episode", "fact", "skill"], ...],
    Field(description="Which kinds of memory to search", min_length=1, max_length=3),
]
AgentFilter = Annotated[
    str | None, Field(description="Only memories written by this agent (omit for every agent's)", max_length=128)
]
TimeBound = Annotated[
    Annotated[str, Field(max_length=64)] | Annotated[float, Field(allow_inf_nan=False)] | None,
    Field(description="ISO-8601 time (2025-01-31T09:30:00Z) or epoch seconds"),
]


OptionalText = Annotated[str | None, Field(description="New text (omit to keep it)", min_length=1, max_length=MAX_TEXT)]
SkillRef = Annotated[str, Field(description="The skill's id or its name", min_length=1, max_length=200)]
Version = Annotated[
    int | None, Field(description="Change it only if it is still at this version (from get_memory)", ge=0, le=2**63 - 1)
]
NewConfidence = Annotated[Confidence | None, Field(description="New confidence, 0 to 1 (omit to keep it)")]
NewTags = Annotated[Tags | None, Field(description="New tags, replacing the old ones (omit to keep them)")]
Success = Annotated[bool | None, Field(description="Whether it worked (omit when unknown)")]
Worked = Annotated[bool, Field(description="Whether this use of the skill worked")]
Limit20 = Annotated[int, Field(description="At most this many results, 1 to 20", ge=1, le=20)]
Limit50 = Annotated[int, Field(description="At most this many results, 1 to 50", ge=1, le=50)]
