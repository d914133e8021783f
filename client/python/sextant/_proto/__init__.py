"""Generated gRPC code of sextant.v1 (proto/sextant/v1/sextant.proto).

The modules here (sextant_pb2, sextant_pb2_grpc) are written by setup.py when the package is
built and are not kept in git. Import them through `sextant._proto.sextant_pb2`; they are an
implementation detail of the client, not its API.
"""
