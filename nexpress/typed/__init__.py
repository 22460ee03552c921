"""Typed handlers: ``body`` and ``query`` parameters decoded and validated by msgspec
(:mod:`.plan`)."""

from .plan import MISSING, TypedPlan, handler_arity, is_model, plan_for, return_annotation

__all__ = ["MISSING", "TypedPlan", "handler_arity", "is_model", "plan_for", "return_annotation"]
