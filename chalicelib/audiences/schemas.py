"""HTTP bodies of the audience routes (rules stay raw JSON here; rules.parse_rule validates them with paths)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from chalicelib.audiences.model import MAX_MEMBERS, MAX_NAME
from chalicelib.audiences.rule_schema import RuleJson
from chalicelib.core.basemodel import Model
from chalicelib.core.ids import ID_PATTERN
from chalicelib.core.schemas import Body
from chalicelib.customers.lookup import nickname_key, normalize_phone

MAX_PHONES = 1_000  # each phone is one index Query
MAX_NICKNAMES = 1_000  # each nickname too


def _phone(value: str) -> str:
    normalize_phone(value)  # ValueError names the field; the text is kept as given, to name it back if unmatched
    return value


def _nickname(value: str) -> str:
    if not nickname_key(value):
        raise ValueError("must not be blank")
    return value


CustomerId = Annotated[str, Field(pattern=ID_PATTERN)]
Phone = Annotated[str, Field(min_length=1, max_length=32, description="+86 138-1234-5678, 13812345678, "
                             "008613812345678: one number"), AfterValidator(_phone)]
Nickname = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_nickname)]
Kind = Literal["builtin", "custom", "frozen", "list"]


def _name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class AudienceIn(Body):
    """custom: name + rule; frozen: name + rule or source_audience_id; list: name + customer_ids, phones and / or
    nicknames."""

    kind: Literal["custom", "frozen", "list"] = "custom"
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=200)
    rule: RuleJson | None = Field(default=None, description='{"all"|"any": [conditions or one nested group]}')
    source_audience_id: str | None = Field(default=None, pattern=ID_PATTERN,
                                           description="frozen: snapshot this audience (built-in ids too)")
    customer_ids: list[CustomerId] | None = Field(default=None, max_length=MAX_MEMBERS)
    phones: list[Phone] | None = Field(default=None, max_length=MAX_PHONES,
                                       description="list: customers found by phone (spaces, dashes and the +86 "
                                                   "country code do not matter)")
    nicknames: list[Nickname] | None = Field(default=None, max_length=MAX_NICKNAMES,
                                             description="list: customers found by exact nickname (精确搜索; every "
                                                         "customer of that nickname)")

    _strip = field_validator("name")(_name)


class AudiencePatch(Body):
    """name / description of any audience; rule of a custom one; customer_ids / phones / nicknames replace a list's
    members."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=200)
    rule: RuleJson | None = None
    customer_ids: list[CustomerId] | None = Field(default=None, max_length=MAX_MEMBERS)
    phones: list[Phone] | None = Field(default=None, max_length=MAX_PHONES)
    nicknames: list[Nickname] | None = Field(default=None, max_length=MAX_NICKNAMES)

    _strip = field_validator("name")(_name)


class MembersIn(Body):
    """Add members to a list audience (a list of up to 300,000 needs several calls under the 1 MB body limit)."""

    customer_ids: list[CustomerId] | None = Field(default=None, max_length=MAX_MEMBERS)
    phones: list[Phone] | None = Field(default=None, max_length=MAX_PHONES)
    nicknames: list[Nickname] | None = Field(default=None, max_length=MAX_NICKNAMES)


class Unmatched(Model):
    """What a list audience's last change searched for and found nobody by, as it was given."""

    phones: list[str] = []  # noqa: RUF012 (pydantic copies a default per instance)
    nicknames: list[str] = []  # noqa: RUF012 (pydantic copies a default per instance)


class AudienceOut(Model):
    audience_id: str
    kind: Kind
    name: str
    name_en: str | None = None
    description: str = ""
    count: int | None = Field(default=None, description="members now (frozen/list: stored members)")
    over_limit: bool = False
    version: int | None = None
    rule: RuleJson | None = None
    source_audience_id: str | None = None
    frozen_at: str | None = None
    unmatched_phones: int | None = Field(default=None, description="list: how many phones of the last change "
                                                                   "matched no customer")
    unmatched_nicknames: int | None = Field(default=None, description="list: how many nicknames of the last change "
                                                                      "matched no customer")
    unmatched: Unmatched | None = Field(default=None, description="list: the phones and nicknames of the last "
                                                                  "change that matched no customer")
    created_at: str | None = None
    updated_at: str | None = None


class AudiencePage(Model):
    items: list[AudienceOut]
    next_cursor: str | None = None


class AudienceListQuery(Body):
    kind: Kind | None = None
    non_empty: bool = False
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


class EstimateIn(Body):
    rule: RuleJson | None = None
    audience_id: str | None = Field(default=None, pattern=ID_PATTERN)


class EstimateOut(Model):
    count: int
    sample: list[str]
    over_limit: bool
    limit: int = MAX_MEMBERS
    as_of: str


class MembersQuery(Body):
    format: Literal["json", "csv"] = "json"
    limit: int | None = Field(default=None, ge=1, le=1000, description="default 100 (json) / 1000 (csv)")
    cursor: str | None = Field(default=None, max_length=4096)


class MembersPage(Model):
    items: list[str]
    next_cursor: str | None = None
    as_of: str


class FieldOut(Model):
    name: str
    type: str
    label: str
    operators: list[str]
    description: str
    nullable: bool
    values: list[str] | None = None
    card_selector: dict[str, Any] | None = None


class FieldList(Model):
    items: list[FieldOut]


class Deleted(Model):
    id: str
    deleted: bool = True
