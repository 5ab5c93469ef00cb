# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names exactly as ContinuousPipe computes them (docs/behaviour.md §8, §6.5).

Everything here is a pure function of its inputs, byte-for-byte compatible with ContinuousPipe
(CP) at its last commit:

* :func:`slugify` is cocur/slugify v1.4.1 with its default rules (the version CP pins): the
  characters of its transliteration table are replaced (``ä`` ⇒ ``ae``, ``ß`` ⇒ ``ss``, ``@`` ⇒
  ``at``, ``é`` ⇒ ``e``, Cyrillic, Greek…), the text is lower-cased (ASCII only), every run of
  characters other than ``[A-Za-z0-9]`` becomes one separator, separators are trimmed at both
  ends. A character missing from the table is **dropped** (it becomes a separator): there is no
  Unicode decomposition fallback in cocur 1.4.1, so none here either.
* environment (namespace) names: ``LimitedLength(Slugify(expression))`` with the 63-character
  md5 truncation (:func:`environment_name`, :func:`limited_length`);
* host names: :func:`hash_long_domain_prefix` and :func:`host_from_suffix` (64-character hosts,
  suffixes of at most 53 characters);
* object names and labels: component identifiers, ``run-<task>`` pods, compose port
  identifiers, TLS secrets, the registry secret, namespace labels;
* deploy-time variable names: ``SERVICE_<E>_PUBLIC_ENDPOINT``, ``ENDPOINT_<E>_PUBLIC_ENDPOINT``
  and ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``;
* Kubernetes name validators (DNS-1123 label / subdomain, label value) that return the
  Kubernetes error texts naming the expected form.

Lengths are counted in characters (CP uses ``strlen`` on names that are ASCII once slugified, and
``mb_strlen`` for host prefixes). md5 digests are taken over the UTF-8 bytes, like PHP.
"""
from __future__ import annotations

import hashlib
import re
import zlib
from typing import Dict, List, Optional, Union

__all__ = [
    "COMPONENT_LABEL",
    "CREATED_BY_LABEL",
    "CREATED_BY_VALUE",
    "ENVIRONMENT_LABEL",
    "FLOW_LABEL",
    "HOST_HASH_LENGTH",
    "MAX_ENVIRONMENT_NAME_LENGTH",
    "MAX_HOST_LENGTH",
    "MAX_HOST_SUFFIX_LENGTH",
    "NamingError",
    "check_dns1123_label",
    "check_dns1123_subdomain",
    "check_label_value",
    "component_identifier",
    "component_labels",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "endpoint_public_endpoint_variable",
    "endpoint_variable_name",
    "environment_labels",
    "environment_name",
    "hash_long_domain_prefix",
    "host_from_suffix",
    "host_suffix_expression",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_value",
    "is_public_endpoint_variable",
    "label_value_errors",
    "limited_length",
    "md5_10",
    "md5_hex",
    "port_identifier",
    "registry_secret_name",
    "run_pod_name",
    "service_public_endpoint_variable",
    "slugify",
    "task_variable_name",
    "tls_secret_name",
]

#: Label put on every object of a component (Deployment, pods, Services, Ingresses, run pods).
COMPONENT_LABEL = "component-identifier"
#: Namespace labels (``IdentifierNamingStrategy::getEnvironmentNamespace`` + the ``flow`` label
#: added by ``DefaultTargetEnvironmentFactory``).
ENVIRONMENT_LABEL = "continuous-pipe-environment"
CREATED_BY_LABEL = "created-by"
CREATED_BY_VALUE = "continuous-pipe"
FLOW_LABEL = "flow"

#: ``LimitedLengthNamingStrategy::DEFAULT_MAX_LENGTH``.
MAX_ENVIRONMENT_NAME_LENGTH = 63
#: ``ComponentFactory::MAX_HOST_LENGTH`` / ``HostnameResolver::MAX_HOST_LENGTH``.
MAX_HOST_LENGTH = 64
#: ``Transformer::HOST_HASH_LENGTH``: ``-`` followed by 10 hexadecimal characters.
HOST_HASH_LENGTH = 11
#: Longest ``host_suffix`` / ``record_suffix`` accepted: 64 - 11.
MAX_HOST_SUFFIX_LENGTH = MAX_HOST_LENGTH - HOST_HASH_LENGTH
#: ``PortIdentifier::MAX_LENGTH`` (IANA service names are at most 15 characters).
PORT_IDENTIFIER_MAX_LENGTH = 15
#: ``SecretFactory::SECRET_PREFIX`` (image pull secret).
REGISTRY_SECRET_PREFIX = "cp-dock-registry-"


class NamingError(ValueError):
    """A name cannot be produced or is not valid; the message is CP's (or Kubernetes') text."""


# --------------------------------------------------------------------------------------------
# slugify (cocur/slugify v1.4.1)
# --------------------------------------------------------------------------------------------

# The default transliteration rules of cocur/slugify v1.4.1 (``Slugify::$rules``, MIT licence,
# (c) Florian Eckerstorfer), in the order and grouping of the original. PHP's ``strtr`` applies
# them longest key first, never re-scanning replaced text; values are re-cased afterwards.
_SLUGIFY_RULES: Dict[str, str] = {
    # Numeric characters, superscript
    '°': '0', '¹': '1', '²': '2', '³': '3', '⁴': '4', '⁵': '5', '⁶': '6', '⁷': '7', '⁸': '8',
    '⁹': '9',
    # Numeric characters, subscript
    '₀': '0', '₁': '1', '₂': '2', '₃': '3', '₄': '4', '₅': '5', '₆': '6', '₇': '7', '₈': '8',
    '₉': '9',
    # Latin
    'æ': 'ae', 'ǽ': 'ae', 'À': 'A', 'Á': 'A', 'Â': 'A', 'Ã': 'A', 'Å': 'AA', 'Ǻ': 'A', 'Ă': 'A',
    'Ǎ': 'A', 'Æ': 'AE', 'Ǽ': 'AE', 'à': 'a', 'á': 'a', 'â': 'a', 'ã': 'a', 'å': 'aa', 'ǻ': 'a',
    'ă': 'a', 'ǎ': 'a', 'ª': 'a', '@': 'at', 'Ĉ': 'C', 'Ċ': 'C', 'ĉ': 'c', 'ċ': 'c', '©': 'c',
    'Ð': 'Dj', 'Đ': 'D', 'ð': 'dj', 'đ': 'd', 'È': 'E', 'É': 'E', 'Ê': 'E', 'Ë': 'E', 'Ĕ': 'E',
    'Ė': 'E', 'è': 'e', 'é': 'e', 'ê': 'e', 'ë': 'e', 'ĕ': 'e', 'ė': 'e', 'ƒ': 'f', 'Ĝ': 'G',
    'Ġ': 'G', 'ĝ': 'g', 'ġ': 'g', 'Ĥ': 'H', 'Ħ': 'H', 'ĥ': 'h', 'ħ': 'h', 'Ì': 'I', 'Í': 'I',
    'Î': 'I', 'Ï': 'I', 'Ĩ': 'I', 'Ĭ': 'I', 'Ǐ': 'I', 'Į': 'I', 'Ĳ': 'IJ', 'ì': 'i', 'í': 'i',
    'î': 'i', 'ï': 'i', 'ĩ': 'i', 'ĭ': 'i', 'ǐ': 'i', 'į': 'i', 'ĳ': 'ij', 'Ĵ': 'J', 'ĵ': 'j',
    'Ĺ': 'L', 'Ľ': 'L', 'Ŀ': 'L', 'ĺ': 'l', 'ľ': 'l', 'ŀ': 'l', 'Ñ': 'N', 'ñ': 'n', 'ŉ': 'n',
    'Ò': 'O', 'Ô': 'O', 'Õ': 'O', 'Ō': 'O', 'Ŏ': 'O', 'Ǒ': 'O', 'Ő': 'O', 'Ơ': 'O', 'Ø': 'OE',
    'Ǿ': 'O', 'Œ': 'OE', 'ò': 'o', 'ô': 'o', 'õ': 'o', 'ō': 'o', 'ŏ': 'o', 'ǒ': 'o', 'ő': 'o',
    'ơ': 'o', 'ø': 'oe', 'ǿ': 'o', 'º': 'o', 'œ': 'oe', 'Ŕ': 'R', 'Ŗ': 'R', 'ŕ': 'r', 'ŗ': 'r',
    'Ŝ': 'S', 'Ș': 'S', 'ŝ': 's', 'ș': 's', 'ſ': 's', 'Ţ': 'T', 'Ț': 'T', 'Ŧ': 'T', 'Þ': 'TH',
    'ţ': 't', 'ț': 't', 'ŧ': 't', 'þ': 'th', 'Ù': 'U', 'Ú': 'U', 'Û': 'U', 'Ũ': 'U', 'Ŭ': 'U',
    'Ű': 'U', 'Ų': 'U', 'Ư': 'U', 'Ǔ': 'U', 'Ǖ': 'U', 'Ǘ': 'U', 'Ǚ': 'U', 'Ǜ': 'U', 'ù': 'u',
    'ú': 'u', 'û': 'u', 'ũ': 'u', 'ŭ': 'u', 'ű': 'u', 'ų': 'u', 'ư': 'u', 'ǔ': 'u', 'ǖ': 'u',
    'ǘ': 'u', 'ǚ': 'u', 'ǜ': 'u', 'Ŵ': 'W', 'ŵ': 'w', 'Ý': 'Y', 'Ÿ': 'Y', 'Ŷ': 'Y', 'ý': 'y',
    'ÿ': 'y', 'ŷ': 'y',
    # Russian
    'Ъ': '', 'Ь': '', 'А': 'A', 'Б': 'B', 'Ц': 'C', 'Ч': 'Ch', 'Д': 'D', 'Е': 'E', 'Ё': 'E',
    'Э': 'E', 'Ф': 'F', 'Г': 'G', 'Х': 'H', 'И': 'I', 'Й': 'Y', 'Я': 'Ya', 'Ю': 'Yu', 'К': 'K',
    'Л': 'L', 'М': 'M', 'Н': 'N', 'О': 'O', 'П': 'P', 'Р': 'R', 'С': 'S', 'Ш': 'Sh', 'Щ': 'Shch',
    'Т': 'T', 'У': 'U', 'В': 'V', 'Ы': 'Y', 'З': 'Z', 'Ж': 'Zh', 'ъ': '', 'ь': '', 'а': 'a',
    'б': 'b', 'ц': 'c', 'ч': 'ch', 'д': 'd', 'е': 'e', 'ё': 'e', 'э': 'e', 'ф': 'f', 'г': 'g',
    'х': 'h', 'и': 'i', 'й': 'y', 'я': 'ya', 'ю': 'yu', 'к': 'k', 'л': 'l', 'м': 'm', 'н': 'n',
    'о': 'o', 'п': 'p', 'р': 'r', 'с': 's', 'ш': 'sh', 'щ': 'shch', 'т': 't', 'у': 'u', 'в': 'v',
    'ы': 'y', 'з': 'z', 'ж': 'zh',
    # German characters
    'Ä': 'AE', 'Ö': 'OE', 'Ü': 'UE', 'ß': 'ss', 'ä': 'ae', 'ö': 'oe', 'ü': 'ue',
    # Turkish characters
    'Ç': 'C', 'Ğ': 'G', 'İ': 'I', 'Ş': 'S', 'ç': 'c', 'ğ': 'g', 'ı': 'i', 'ş': 's',
    # Latvian
    'Ā': 'A', 'Ē': 'E', 'Ģ': 'G', 'Ī': 'I', 'Ķ': 'K', 'Ļ': 'L', 'Ņ': 'N', 'Ū': 'U', 'ā': 'a',
    'ē': 'e', 'ģ': 'g', 'ī': 'i', 'ķ': 'k', 'ļ': 'l', 'ņ': 'n', 'ū': 'u',
    # Ukrainian
    'Ґ': 'G', 'І': 'I', 'Ї': 'Ji', 'Є': 'Ye', 'ґ': 'g', 'і': 'i', 'ї': 'ji', 'є': 'ye',
    # Czech
    'Č': 'C', 'Ď': 'D', 'Ě': 'E', 'Ň': 'N', 'Ř': 'R', 'Š': 'S', 'Ť': 'T', 'Ů': 'U', 'Ž': 'Z',
    'č': 'c', 'ď': 'd', 'ě': 'e', 'ň': 'n', 'ř': 'r', 'š': 's', 'ť': 't', 'ů': 'u', 'ž': 'z',
    # Polish
    'Ą': 'A', 'Ć': 'C', 'Ę': 'E', 'Ł': 'L', 'Ń': 'N', 'Ó': 'O', 'Ś': 'S', 'Ź': 'Z', 'Ż': 'Z',
    'ą': 'a', 'ć': 'c', 'ę': 'e', 'ł': 'l', 'ń': 'n', 'ó': 'o', 'ś': 's', 'ź': 'z', 'ż': 'z',
    # Greek
    'ΑΥ': 'AU', 'Αυ': 'Au', 'ΟΥ': 'OU', 'Ου': 'Ou', 'ΕΥ': 'EU', 'Ευ': 'Eu', 'ΕΙ': 'I', 'Ει': 'I',
    'ΟΙ': 'I', 'Οι': 'I', 'ΥΙ': 'I', 'Υι': 'I', 'ΑΎ': 'AU', 'Αύ': 'Au', 'ΟΎ': 'OU', 'Ού': 'Ou',
    'ΕΎ': 'EU', 'Εύ': 'Eu', 'ΕΊ': 'I', 'Εί': 'I', 'ΟΊ': 'I', 'Οί': 'I', 'ΎΙ': 'I', 'Ύι': 'I',
    'ΥΊ': 'I', 'Υί': 'I', 'αυ': 'au', 'ου': 'ou', 'ευ': 'eu', 'ει': 'i', 'οι': 'i', 'υι': 'i',
    'αύ': 'au', 'ού': 'ou', 'εύ': 'eu', 'εί': 'i', 'οί': 'i', 'ύι': 'i', 'υί': 'i', 'Α': 'A',
    'Β': 'V', 'Γ': 'G', 'Δ': 'D', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'I', 'Θ': 'Th', 'Ι': 'I', 'Κ': 'K',
    'Λ': 'L', 'Μ': 'M', 'Ν': 'N', 'Ξ': 'X', 'Ο': 'O', 'Π': 'P', 'Ρ': 'R', 'Σ': 'S', 'Τ': 'T',
    'Υ': 'I', 'Φ': 'F', 'Χ': 'Ch', 'Ψ': 'Ps', 'Ω': 'O', 'Ά': 'A', 'Έ': 'E', 'Ή': 'I', 'Ί': 'I',
    'Ό': 'O', 'Ύ': 'I', 'Ϊ': 'I', 'Ϋ': 'I', 'ϒ': 'I', 'α': 'a', 'β': 'v', 'γ': 'g', 'δ': 'd',
    'ε': 'e', 'ζ': 'z', 'η': 'i', 'θ': 'th', 'ι': 'i', 'κ': 'k', 'λ': 'l', 'μ': 'm', 'ν': 'n',
    'ξ': 'x', 'ο': 'o', 'π': 'p', 'ρ': 'r', 'ς': 's', 'σ': 's', 'τ': 't', 'υ': 'i', 'φ': 'f',
    'χ': 'ch', 'ψ': 'ps', 'ω': 'o', 'ά': 'a', 'έ': 'e', 'ή': 'i', 'ί': 'i', 'ό': 'o', 'ύ': 'i',
    'ϊ': 'i', 'ϋ': 'i', 'ΰ': 'i', 'ώ': 'o', 'ϐ': 'v', 'ϑ': 'th',
    # Arabic
    'أ': 'a', 'ب': 'b', 'ت': 't', 'ث': 'th', 'ج': 'g', 'ح': 'h', 'خ': 'kh', 'د': 'd', 'ذ': 'th',
    'ر': 'r', 'ز': 'z', 'س': 's', 'ش': 'sh', 'ص': 's', 'ض': 'd', 'ط': 't', 'ظ': 'th', 'ع': 'aa',
    'غ': 'gh', 'ف': 'f', 'ق': 'k', 'ك': 'k', 'ل': 'l', 'م': 'm', 'ن': 'n', 'ه': 'h', 'و': 'o',
    'ي': 'y',
    # Vietnamese
    'ạ': 'a', 'ả': 'a', 'ầ': 'a', 'ấ': 'a', 'ậ': 'a', 'ẩ': 'a', 'ẫ': 'a', 'ằ': 'a', 'ắ': 'a',
    'ặ': 'a', 'ẳ': 'a', 'ẵ': 'a', 'ẹ': 'e', 'ẻ': 'e', 'ẽ': 'e', 'ề': 'e', 'ế': 'e', 'ệ': 'e',
    'ể': 'e', 'ễ': 'e', 'ị': 'i', 'ỉ': 'i', 'ọ': 'o', 'ỏ': 'o', 'ồ': 'o', 'ố': 'o', 'ộ': 'o',
    'ổ': 'o', 'ỗ': 'o', 'ờ': 'o', 'ớ': 'o', 'ợ': 'o', 'ở': 'o', 'ỡ': 'o', 'ụ': 'u', 'ủ': 'u',
    'ừ': 'u', 'ứ': 'u', 'ự': 'u', 'ử': 'u', 'ữ': 'u', 'ỳ': 'y', 'ỵ': 'y', 'ỷ': 'y', 'ỹ': 'y',
    'Ạ': 'A', 'Ả': 'A', 'Ầ': 'A', 'Ấ': 'A', 'Ậ': 'A', 'Ẩ': 'A', 'Ẫ': 'A', 'Ằ': 'A', 'Ắ': 'A',
    'Ặ': 'A', 'Ẳ': 'A', 'Ẵ': 'A', 'Ẹ': 'E', 'Ẻ': 'E', 'Ẽ': 'E', 'Ề': 'E', 'Ế': 'E', 'Ệ': 'E',
    'Ể': 'E', 'Ễ': 'E', 'Ị': 'I', 'Ỉ': 'I', 'Ọ': 'O', 'Ỏ': 'O', 'Ồ': 'O', 'Ố': 'O', 'Ộ': 'O',
    'Ổ': 'O', 'Ỗ': 'O', 'Ờ': 'O', 'Ớ': 'O', 'Ợ': 'O', 'Ở': 'O', 'Ỡ': 'O', 'Ụ': 'U', 'Ủ': 'U',
    'Ừ': 'U', 'Ứ': 'U', 'Ự': 'U', 'Ử': 'U', 'Ữ': 'U', 'Ỳ': 'Y', 'Ỵ': 'Y', 'Ỷ': 'Y', 'Ỹ': 'Y',
    # Georgian
    'ა': 'a', 'ბ': 'b', 'გ': 'g', 'დ': 'd', 'ე': 'e', 'ვ': 'v', 'ზ': 'z', 'თ': 't', 'ი': 'i',
    'კ': 'k', 'ლ': 'l', 'მ': 'm', 'ნ': 'n', 'ო': 'o', 'პ': 'p', 'ჟ': 'zh', 'რ': 'r', 'ს': 's',
    'ტ': 't', 'უ': 'u', 'ფ': 'f', 'ქ': 'k', 'ღ': 'gh', 'ყ': 'q', 'შ': 'sh', 'ჩ': 'ch', 'ც': 'ts',
    'ძ': 'dz', 'წ': 'ts', 'ჭ': 'ch', 'ხ': 'kh', 'ჯ': 'j', 'ჰ': 'h',
    # Burmese consonants
    'က': 'k', 'ခ': 'kh', 'ဂ': 'g', 'ဃ': 'ga', 'င': 'ng', 'စ': 's', 'ဆ': 'sa', 'ဇ': 'z',
    'စ\u103b': 'za', 'ည': 'ny', 'ဋ': 't', 'ဌ': 'ta', 'ဍ': 'd', 'ဎ': 'da', 'ဏ': 'na', 'တ': 't',
    'ထ': 'ta', 'ဒ': 'd', 'ဓ': 'da', 'န': 'n', 'ပ': 'p', 'ဖ': 'pa', 'ဗ': 'b', 'ဘ': 'ba', 'မ': 'm',
    'ယ': 'y', 'ရ': 'ya', 'လ': 'l', 'ဝ': 'w', 'သ': 'th', 'ဟ': 'h', 'ဠ': 'la', 'အ': 'a',
    # Consonant character combos
    '\u103c': 'y', '\u103b': 'ya', '\u103d': 'w', '\u103c\u103d': 'yw', '\u103b\u103d': 'ywa',
    '\u103e': 'h',
    # Independent vowels
    'ဧ': 'e', '၏': '-e', 'ဣ': 'i', 'ဤ': '-i', 'ဉ': 'u', 'ဦ': '-u', 'ဩ': 'aw',
    'သ\u103c\u1031\u102c': 'aw', 'ဪ': 'aw', '၍': 'ywae', '၌': 'hnaik',
    # Numbers
    '၀': '0', '၁': '1', '၂': '2', '၃': '3', '၄': '4', '၅': '5', '၆': '6', '၇': '7', '၈': '8',
    '၉': '9',
    # Virama and tone marks which are silent in transliteration
    '\u1039': '', '\u1037': '', '\u1038': '',
    # Dependent vowels
    '\u102c': 'a', '\u102b': 'a', '\u1031': 'e', '\u1032': 'e', '\u102d': 'i', '\u102e': 'i',
    '\u102d\u102f': 'o', '\u102f': 'u', '\u1030': 'u', '\u1031\u102bင\u103a': 'aung',
    '\u1031\u102c': 'aw', '\u1031\u102c\u103a': 'aw', '\u1031\u102b': 'aw',
    '\u1031\u102b\u103a': 'aw', '\u103a': 'at', 'က\u103a': 'et', '\u102d\u102fက\u103a': 'aik',
    '\u1031\u102cက\u103a': 'auk', 'င\u103a': 'in', '\u102d\u102fင\u103a': 'aing',
    '\u1031\u102cင\u103a': 'aung', 'စ\u103a': 'it', 'ည\u103a': 'i', 'တ\u103a': 'at',
    '\u102dတ\u103a': 'eik', '\u102fတ\u103a': 'ok', '\u103dတ\u103a': 'ut', '\u1031တ\u103a': 'it',
    'ဒ\u103a': 'd', '\u102d\u102fဒ\u103a': 'ok', '\u102fဒ\u103a': 'ait', 'န\u103a': 'an',
    '\u102cန\u103a': 'an', '\u102dန\u103a': 'ein', '\u102fန\u103a': 'on', '\u103dန\u103a': 'un',
    'ပ\u103a': 'at', '\u102dပ\u103a': 'eik', '\u102fပ\u103a': 'ok', '\u103dပ\u103a': 'ut',
    'န\u103a\u102fပ\u103a': 'nub', 'မ\u103a': 'an', '\u102dမ\u103a': 'ein', '\u102fမ\u103a': 'on',
    '\u103dမ\u103a': 'un', 'ယ\u103a': 'e', '\u102d\u102fလ\u103a': 'ol', 'ဉ\u103a': 'in',
    '\u1036': 'an', '\u102d\u1036': 'ein', '\u102f\u1036': 'on',
}

# strtr(): at each position the longest key wins (keys sorted by length, longest first).
_SLUGIFY_RULES_RE = re.compile(
    "|".join(re.escape(key) for key in sorted(_SLUGIFY_RULES, key=lambda k: (-len(k), k)))
)
_NOT_ALNUM_RE = re.compile(r"[^A-Za-z0-9]+")


def _transliterate(text: str) -> str:
    """Apply the cocur/slugify v1.4.1 default rules the way PHP ``strtr`` does."""
    if text.isascii() and "@" not in text:
        return text
    return _SLUGIFY_RULES_RE.sub(lambda m: _SLUGIFY_RULES[m.group(0)], text)


def slugify(text: str, separator: str = "-") -> str:
    """cocur/slugify v1.4.1 ``(new Slugify())->slugify($text, $separator)``.

    ``"feature/123-FOO-bar"`` ⇒ ``"feature-123-foo-bar"``, ``"Über @ café"`` ⇒
    ``"ueber-at-cafe"``, ``"don't"`` ⇒ ``"don-t"``. Characters without a transliteration rule
    (``"日本"``, ``"ǹ"``) are dropped like any other non-alphanumeric character.
    """
    text = _transliterate(str(text))
    # PHP lower-cases before replacing (strtolower is ASCII-only in the C locale); lower-casing the
    # alphanumeric runs afterwards is equivalent and keeps the separator as given.
    parts = _NOT_ALNUM_RE.split(text)
    return separator.join(part.lower() for part in parts).strip(separator)


# --------------------------------------------------------------------------------------------
# hashes and lengths
# --------------------------------------------------------------------------------------------

def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def md5_hex(text: str) -> str:
    """Hexadecimal md5 of the UTF-8 bytes of ``text`` (PHP ``md5()``)."""
    return hashlib.md5(_utf8(text)).hexdigest()  # nosec - a name hash, not a security hash


def md5_10(text: str) -> str:
    """The first 10 hexadecimal characters of ``md5(text)`` (CP's ``Hashifier::hash($s, 10)``)."""
    return md5_hex(text)[:10]


def limited_length(name: str, flow_uuid: str, max_len: int = MAX_ENVIRONMENT_NAME_LENGTH) -> str:
    """``LimitedLengthNamingStrategy``: shorten ``name`` to ``max_len`` characters.

    Names of at most ``max_len`` characters are returned as they are. Longer ones keep their first
    ``len(flow_uuid) + 1`` characters (the ``<uuid>-`` prefix of default names, "37" for every
    name, custom ones included), then as many following characters as fit, then ``-`` and the
    first 10 hexadecimal characters of the md5 of everything after the kept prefix.
    """
    if len(name) <= max_len:
        return name
    head = name[: len(str(flow_uuid)) + 1]
    rest = name[len(head):]
    # PHP substr() with a negative length drops characters from the end, like Python slicing.
    return head + rest[: max_len - len(head) - 10 - 1] + "-" + md5_10(rest)


def environment_name(
    flow_uuid: str,
    branch: str,
    evaluated_expression: Optional[Union[str, int]] = None,
    policy_prefix: Optional[str] = None,
) -> str:
    """The environment (namespace) name of a deploy or run task (§8.1).

    ``evaluated_expression`` is the value of the task's ``environment.name`` expression, already
    evaluated (context C3); ``None`` means "no expression": the default expression is then
    ``'<flow_uuid>-' ~ code_reference.branch``, or ``'<prefix><md5(flow_uuid)[:5]>-' ~ branch``
    when the target cluster has an ``environment`` policy with a ``prefix``. The result is
    slugified then shortened to 63 characters by :func:`limited_length`.

    The cluster policy check (the final name must start with the prefix) is not done here.
    """
    flow_uuid = str(flow_uuid)
    if evaluated_expression is None:
        if policy_prefix is not None:
            prefix = "%s%s-" % (policy_prefix, md5_hex(flow_uuid)[:5])
        else:
            prefix = flow_uuid + "-"
        evaluated_expression = prefix + branch
    elif isinstance(evaluated_expression, bool) or not isinstance(evaluated_expression, (str, int)):
        raise NamingError(
            "The environment name expression should return a string, got %s"
            % type(evaluated_expression).__name__
        )
    return limited_length(slugify(str(evaluated_expression)), flow_uuid)


def hash_long_domain_prefix(prefix: str, max_len: int) -> str:
    """CP's ``hash_long_domain_prefix(prefix, max_len)`` (``DomainName\\Transformer::shortenWithHash``).

    A prefix of at most ``max_len`` characters is returned as is; a longer one is cut to
    ``max_len - 11`` characters, stripped of trailing ``-``, and followed by ``-`` and the first 10
    hexadecimal characters of the md5 of the whole prefix.
    """
    if len(prefix) <= max_len:
        return prefix
    shortened = prefix[: max_len - HOST_HASH_LENGTH].rstrip("-")
    return shortened + "-" + md5_hex(prefix)[: HOST_HASH_LENGTH - 1]


def host_suffix_expression(suffix: str) -> str:
    """The expression CP generates for a ``host_suffix`` / ``record_suffix`` (``HostnameResolver``)."""
    return 'hash_long_domain_prefix(slugify(code_reference.branch), %d) ~ "%s"' % (
        MAX_HOST_LENGTH - len(suffix), suffix)


def host_from_suffix(branch: str, suffix: str, key: str = "ingress host_suffix") -> str:
    """The host name of an ingress (or CloudFlare / HttpLabs record) given by a suffix (§8.3).

    ``hash_long_domain_prefix(slugify(branch), 64 - len(suffix)) + suffix``; the suffix is
    appended verbatim (a suffix without a leading ``-`` or ``.`` glues onto the branch). ``key``
    names the option in the error raised for a suffix longer than 53 characters:
    ``"ingress host_suffix"``, ``"cloud_flare_zone record_suffix"`` or ``"httplabs record_suffix"``.

    (CP evaluates :func:`host_suffix_expression`, so a suffix containing ``"`` or ``\\`` would be
    mangled or rejected there; such suffixes are not valid host names anyway.)
    """
    if len(suffix) > MAX_HOST_SUFFIX_LENGTH:
        raise NamingError("The %s cannot be more than %d characters long" % (key, MAX_HOST_SUFFIX_LENGTH))
    return hash_long_domain_prefix(slugify(branch), MAX_HOST_LENGTH - len(suffix)) + suffix


# --------------------------------------------------------------------------------------------
# object names
# --------------------------------------------------------------------------------------------

def component_identifier(service_key: str) -> str:
    """The component name / identifier of a deploy service key (``DeployTaskFactory``): slugified."""
    return slugify(service_key)


def run_pod_name(task_id: str) -> str:
    """The name of the pod (component) of a ``run`` task: ``slugify("run-" + task_id)``."""
    return slugify("run-" + str(task_id))


def port_identifier(service_name: str, port: Union[int, str]) -> str:
    """The port name CP derives from a docker-compose ``expose`` entry (``PortIdentifier``).

    ``service_name[:15 - len(port)] + port`` (``elasticsearch`` / 9200 ⇒ ``elasticsear9200``);
    when the port alone has 15 characters or more, the service name is followed by the crc32 (hex)
    of ``service_name + port`` instead.
    """
    port_text = str(port)
    count = PORT_IDENTIFIER_MAX_LENGTH - len(port_text)
    if count > 0:
        return service_name[:count] + port_text
    crc = "%x" % (zlib.crc32(_utf8(service_name + port_text)) & 0xFFFFFFFF)
    return service_name[: PORT_IDENTIFIER_MAX_LENGTH - len(crc)] + crc


CLUSTER_DOMAIN = "svc.cluster.local"


def service_dns_name(service: str, namespace: str) -> str:
    """The in-cluster DNS name of a Service: ``<service>.<namespace>.svc.cluster.local``."""
    return "%s.%s.%s" % (service, namespace, CLUSTER_DOMAIN)


def task_slug(task_id: str) -> str:
    """A task identifier usable inside a DNS-1123 subdomain (hash-suffixed when it had to change)."""
    slug = re.sub(r"[^a-z0-9.-]+", "-", task_id.lower())
    slug = re.sub(r"\.{2,}", ".", slug).strip(".-") or "task"
    if slug != task_id:
        slug = "%s-%s" % (slug[:200].strip(".-"), hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:6])
    return slug[:230]


def checksum_key_secret_name(task_id: str) -> str:
    """The Secret holding the key of a deploy task's pod checksums: ``cp-checksum-key.<task>``."""
    return "cp-checksum-key.%s" % task_slug(task_id)


def tls_secret_name(endpoint_name: str, certificate_name: str) -> str:
    """The TLS Secret of an endpoint's SSL certificate: ``<endpoint>-<certificate name>``."""
    return "%s-%s" % (endpoint_name, certificate_name)


def registry_secret_name(credentials_bucket_uuid: str) -> str:
    """The image pull Secret: ``cp-dock-registry-`` + ``slugify("bucket-<uuid>")``."""
    return REGISTRY_SECRET_PREFIX + slugify("bucket-" + str(credentials_bucket_uuid))


# --------------------------------------------------------------------------------------------
# deploy-time variables (§6.5)
# --------------------------------------------------------------------------------------------

_ASCII_UPPER = {code: code - 32 for code in range(ord("a"), ord("z") + 1)}
_PUBLIC_ENDPOINT_VARIABLE_RE = re.compile(r"^(?:SERVICE|ENDPOINT)_[^a-z]+_PUBLIC_ENDPOINT$")


def endpoint_variable_name(endpoint_name: str) -> str:
    """The ``<E>`` of ``SERVICE_<E>_PUBLIC_ENDPOINT`` (``ServiceVariable::getVariableName``).

    cocur slugify with ``_`` as separator, upper-cased: ``foo-dashed`` ⇒ ``FOO_DASHED``,
    ``https-api`` ⇒ ``HTTPS_API``.
    """
    return slugify(endpoint_name, "_").translate(_ASCII_UPPER)


def service_public_endpoint_variable(endpoint_name: str) -> str:
    """``SERVICE_<E>_PUBLIC_ENDPOINT`` for the endpoint ``endpoint_name``."""
    return "SERVICE_%s_PUBLIC_ENDPOINT" % endpoint_variable_name(endpoint_name)


def endpoint_public_endpoint_variable(endpoint_name: str) -> str:
    """``ENDPOINT_<E>_PUBLIC_ENDPOINT`` for the endpoint ``endpoint_name``."""
    return "ENDPOINT_%s_PUBLIC_ENDPOINT" % endpoint_variable_name(endpoint_name)


def is_public_endpoint_variable(name: str) -> bool:
    """Names the missing-variable check ignores (``^(SERVICE|ENDPOINT)_[^a-z]+_PUBLIC_ENDPOINT$``)."""
    return _PUBLIC_ENDPOINT_VARIABLE_RE.match(name) is not None


def task_variable_name(task_id: str) -> str:
    """``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``: the task id upper-cased (ASCII), ``-`` ⇒ ``_``."""
    return "__TASK_%s_TARGET_ENVIRONMENT_NAME" % str(task_id).translate(_ASCII_UPPER).replace("-", "_")


# --------------------------------------------------------------------------------------------
# labels and Kubernetes validation
# --------------------------------------------------------------------------------------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL)
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN)
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE)

_DNS1123_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '%s')" % _DNS1123_LABEL
)
_DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '%s')" % _DNS1123_SUBDOMAIN
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '%s')" % _LABEL_VALUE
)


def _errors(value: str, max_len: int, pattern: "re.Pattern[str]", message: str) -> List[str]:
    errors = []
    if len(value) > max_len:
        errors.append("must be no more than %d characters" % max_len)
    if pattern.fullmatch(value) is None:
        errors.append(message)
    return errors


def dns1123_label_errors(value: str) -> List[str]:
    """Kubernetes' messages for a DNS-1123 label (namespace, Service, port name…); ``[]`` if valid."""
    return _errors(value, 63, _DNS1123_LABEL_RE, _DNS1123_LABEL_MESSAGE)


def dns1123_subdomain_errors(value: str) -> List[str]:
    """Kubernetes' messages for a DNS-1123 subdomain (Deployment, Secret, Ingress, host…)."""
    return _errors(value, 253, _DNS1123_SUBDOMAIN_RE, _DNS1123_SUBDOMAIN_MESSAGE)


def label_value_errors(value: str) -> List[str]:
    """Kubernetes' messages for a label value (empty allowed, at most 63 characters)."""
    return _errors(value, 63, _LABEL_VALUE_RE, _LABEL_VALUE_MESSAGE)


def is_dns1123_label(value: str) -> bool:
    """True when ``value`` is a DNS-1123 label: ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, ≤ 63 characters."""
    return not dns1123_label_errors(value)


def is_dns1123_subdomain(value: str) -> bool:
    """True when ``value`` is a DNS-1123 subdomain (dot-separated labels, ≤ 253 characters)."""
    return not dns1123_subdomain_errors(value)


def is_label_value(value: str) -> bool:
    """True when ``value`` is a valid Kubernetes label value."""
    return not label_value_errors(value)


def _check(value: str, errors: List[str], what: str) -> str:
    if errors:
        raise NamingError('Invalid %s "%s": %s' % (what, value, "; ".join(errors)))
    return value


def check_dns1123_label(value: str, what: str = "name") -> str:
    """Return ``value`` or raise :class:`NamingError` with Kubernetes' texts (``what`` names it)."""
    return _check(value, dns1123_label_errors(value), what)


def check_dns1123_subdomain(value: str, what: str = "name") -> str:
    """Return ``value`` or raise :class:`NamingError` with Kubernetes' texts."""
    return _check(value, dns1123_subdomain_errors(value), what)


def check_label_value(value: str, what: str = "label value") -> str:
    """Return ``value`` or raise :class:`NamingError` with Kubernetes' texts."""
    return _check(value, label_value_errors(value), what)


def component_labels(identifier: str) -> Dict[str, str]:
    """The labels CP puts on every object of a component: ``{component-identifier: <id>}``."""
    return {COMPONENT_LABEL: identifier}


def environment_labels(environment_name: str, flow_uuid: str) -> Dict[str, str]:
    """The labels of an environment's Namespace (set at creation, never changed by CP).

    ``continuous-pipe-environment: <name>``, ``created-by: continuous-pipe``, ``flow: <uuid>``;
    raises :class:`NamingError` when a value is not a valid label value.
    """
    return {
        ENVIRONMENT_LABEL: check_label_value(environment_name, "label %s" % ENVIRONMENT_LABEL),
        CREATED_BY_LABEL: CREATED_BY_VALUE,
        FLOW_LABEL: check_label_value(str(flow_uuid), "label %s" % FLOW_LABEL),
    }
