"""Test helpers for plugin authors: phantom fixtures and conformance suites.

Subclass ``LabelerConformance`` or ``SegmenterConformance`` in your plugin's tests and
set the plugin name; the suite runs the checks every wsbench plugin must pass.
"""
