"""A document as HTML: modules/billing/templates/document.html.j2, rendered by Jinja2 with
autoescaping on, so an account named `<script>` shows as that text. The page is self-contained
(inline styles, no script, nothing fetched); routes serve it with a CSP that forbids anything else."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from modules.billing.services.document_model import Document

# what the page may load when served: its inline styles, nothing else (no script, no fetch)
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@cache
def _template() -> Template:
    environment = Environment(
        loader=PackageLoader("modules.billing", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("document.html.j2")


def render_html(doc: Document) -> str:
    return _template().render(doc=doc)
