"""Errors raised by services. The API turns them into responses that say exactly what is wrong."""

from dataclasses import dataclass, field


@dataclass
class FieldError:
    message: str
    field: str | None = None
    line: int | None = None

    def as_dict(self) -> dict:
        out: dict = {"message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class ServiceError(Exception):
    message: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400
    code: str = "invalid"

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        return self.message + ": " + "; ".join(e.message for e in self.errors[:5])


class ValidationFailed(ServiceError):
    pass


def invalid(message: str, *errors: FieldError, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message=message, errors=list(errors), status=400, code=code)


def conflict(message: str, code: str = "conflict") -> ServiceError:
    return ServiceError(message=message, status=409, code=code)


def not_found(message: str) -> ServiceError:
    return ServiceError(message=message, status=404, code="not_found")


def forbidden(message: str, code: str = "forbidden") -> ServiceError:
    return ServiceError(message=message, status=403, code=code)


def size_text(n_bytes: int) -> str:
    """A byte count as people read limits: "20 MiB", "1.5 MiB", "512 KiB", "100 bytes" (1 MiB = 2**20 bytes)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n_bytes} bytes"
