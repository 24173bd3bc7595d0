// CollectorPayload 1-0-0, as compiled into Snowplow's collector-payload-1 artifact (field ids 31337 and
// 100-410; NOT the obsolete 10..130 numbering in Iglu Central's IDL text).  Field ids are Snowplow's;
// the fields are listed here in ascending id order because Java's generated writer emits fields
// sorted by id (real payloads start with field 100) while thriftpy2 emits them in declaration order.
// Requiredness is Thrift's "default" (no `required`), as in Snowplow's IDL.

struct CollectorPayload {
  // Required fields which are intrinsic properties of HTTP
  100: string ipAddress

  // Required fields which are Snowplow-specific
  200: i64 timestamp
  210: string encoding
  220: string collector

  // Optional fields which are intrinsic properties of HTTP
  300: optional string userAgent
  310: optional string refererUri
  320: optional string path
  330: optional string querystring
  340: optional string body
  350: optional list<string> headers
  360: optional string contentType

  // Optional fields which are Snowplow-specific
  400: optional string hostname
  410: optional string networkUserId

  31337: string schema
}
