"""Keep the built site off the network: it must render and search with nothing but its own files.

Material's header link to the repository (`repo_url`) carries `data-md-component="source"`, and
Material's JavaScript then asks api.github.com for the repository's stars and forks. This hook
renders the same link without that component, so the browser fetches nothing. Fonts are off in
mkdocs.yml (`theme.font: false`); nothing is loaded from a CDN.
"""
from __future__ import annotations

from jinja2 import ChoiceLoader, DictLoader

SOURCE_LINK = """\
<a href="{{ config.repo_url }}" title="{{ lang.t('source') }}" class="md-source">
  <div class="md-source__icon md-icon">
    {% set icon = config.theme.icon.repo or "fontawesome/brands/git-alt" %}
    {% include ".icons/" ~ icon ~ ".svg" %}
  </div>
  <div class="md-source__repository">
    {{ config.repo_name }}
  </div>
</a>
"""


def on_env(env, config, files):
    env.loader = ChoiceLoader([DictLoader({"partials/source.html": SOURCE_LINK}), env.loader])
    return env
