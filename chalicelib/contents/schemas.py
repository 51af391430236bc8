"""HTTP bodies of content templates: text with variables, an e-mail subject, attachments by reference."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from chalicelib.contents.render import TemplateError, template_variables
from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body

MB = 1024 * 1024
# Attachments are references: the size is declared so a channel never fetches something oversized.
MAX_SIZE: dict[str, int] = {"image": 10 * MB, "video": 100 * MB, "file": 50 * MB}
MAX_ATTACHMENTS = 9
AttachmentType = Literal["image", "video", "file", "link", "mini_program"]


class AttachmentIn(Body):
    type: AttachmentType
    url: str = Field(max_length=2048, pattern=r"^https://[^\s/]+\S*$", description="https URL of the resource")
    size_bytes: int | None = Field(default=None, ge=1, validate_default=True,
                                   description="required for image (≤10 MB), video (≤100 MB), file (≤50 MB)")
    title: str | None = Field(default=None, max_length=64)

    @field_validator("size_bytes")
    @classmethod
    def _size(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("type")
        limit = MAX_SIZE.get(kind or "")
        if limit is None:
            return value
        if value is None:
            raise ValueError(f"required for a {kind} attachment")
        if value > limit:
            raise ValueError(f"a {kind} attachment is at most {limit // MB} MB")
        return value


def _template(value: str | None) -> str | None:
    if value is not None:
        try:
            template_variables(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
    return value


class ContentFields(Body):
    """Every content field, optional (PATCH); ContentIn makes name and text required."""

    name: str | None = Field(default=None, min_length=1, max_length=32)
    text: str | None = Field(default=None, min_length=1, max_length=2000,
                             description="variables: {nickname} {store_name} {coupon_name} {coupon_value} "
                                         "{claim_link} {unsubscribe_link}; {{ and }} for literal braces")
    subject: str | None = Field(default=None, min_length=1, max_length=120, description="e-mail subject")
    attachments: list[AttachmentIn] | None = Field(default=None, max_length=MAX_ATTACHMENTS)

    @field_validator("text", "subject")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        return _template(value)


class ContentIn(ContentFields):
    name: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=2000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class ContentPatch(ContentFields):
    """PATCH /v1/contents/{id}: the fields given replace the stored ones."""


class AttachmentOut(Model):
    type: str
    url: str
    size_bytes: int | None
    title: str | None


class ContentOut(Model):
    content_id: str
    version: int
    name: str
    text: str
    subject: str | None
    attachments: list[AttachmentOut]
    variables: list[str] = Field(description="the variables the text and subject use")
    created_at: str
    updated_at: str


class ContentPage(Model):
    items: list[ContentOut]
    next_cursor: str | None = None
