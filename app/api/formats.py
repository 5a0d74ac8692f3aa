"""JSON, XML and CSV bodies for the APIs, with ETags so clients and proxies can cache them."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from flask import Response, request

from app.exports import csv_download, csv_text


def _xml_value(parent: ET.Element, tag: str, value) -> None:
    node = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(node, k, v)
    elif isinstance(value, list):
        child = tag[:-1] if tag.endswith("s") else "item"
        for item in value:
            _xml_value(node, child, item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def xml_body(root: str, item: str, items: list[dict]) -> str:
    """A GeoReport-style XML document: <root><item>…</item>…</root>."""
    top = ET.Element(root)
    for entry in items:
        node = ET.SubElement(top, item)
        for key, value in entry.items():
            _xml_value(node, key, value)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode")


def cacheable(response: Response, max_age: int = 300) -> Response:
    """Add an ETag and Cache-Control; answer 304 when the client already has this body."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.add_etag()
    return response.make_conditional(request)


def csv_response(rows: list[dict], columns: list[str], filename: str) -> Response:
    """``rows`` as CSV with ``columns`` in order, through the one escaping writer of app/exports.py."""
    return csv_download(csv_text(columns, ([row.get(k) for k in columns] for row in rows)), filename)
