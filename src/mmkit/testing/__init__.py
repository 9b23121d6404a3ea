"""Test helpers shipped with mmkit: a fake venue and a pytest plugin for plugin authors."""
