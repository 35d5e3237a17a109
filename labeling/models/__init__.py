from labeling.models.annotations import (
    Demonstration,
    Dialogue,
    Ranking,
    Review,
    ReviewDecision,
    ReviewStatus,
    WrittenPrompt,
)
from labeling.models.content import Candidate, CandidateSource, Prompt, PromptSource
from labeling.models.drafts import AnnotationRevision, Draft
from labeling.models.project import (
    DEFAULT_CRITERIA,
    DEFAULT_FLAGS,
    DEFAULT_RATING_SCALE,
    ApiToken,
    Guideline,
    Membership,
    Project,
    Role,
    Selection,
)
from labeling.models.suggestions import Suggestion, SuggestionStatus
from labeling.models.tasks import Assignment, AssignmentStatus, Task, TaskCandidate, TaskKind, TaskStatus

__all__ = [
    "DEFAULT_CRITERIA",
    "DEFAULT_FLAGS",
    "DEFAULT_RATING_SCALE",
    "AnnotationRevision",
    "ApiToken",
    "Assignment",
    "AssignmentStatus",
    "Candidate",
    "CandidateSource",
    "Demonstration",
    "Dialogue",
    "Draft",
    "Guideline",
    "Membership",
    "Project",
    "Prompt",
    "PromptSource",
    "Ranking",
    "Review",
    "ReviewDecision",
    "ReviewStatus",
    "Role",
    "Selection",
    "Suggestion",
    "SuggestionStatus",
    "Task",
    "TaskCandidate",
    "TaskKind",
    "TaskStatus",
    "WrittenPrompt",
]
